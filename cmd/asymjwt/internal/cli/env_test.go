package cli_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// These tests set the process environment: they cannot run in parallel.

func TestFlagsFromEnvironment(t *testing.T) {
	dir := keysDir(t)
	fromFlags := mustRun(t, "", "keys", "list", "--dir", dir, "--json")

	t.Setenv("ASYMJWT_DIR", dir)
	t.Setenv("ASYMJWT_JSON", "true")
	if got := mustRun(t, "", "keys", "list"); got != fromFlags {
		t.Errorf("from the environment:\n%s\nfrom flags:\n%s", got, fromFlags)
	}

	// A flag on the command line wins over its variable.
	t.Setenv("ASYMJWT_DIR", t.TempDir()) // empty: no keys
	if got := mustRun(t, "", "keys", "list", "--dir", dir); got != fromFlags {
		t.Errorf("--dir did not win over ASYMJWT_DIR:\n%s", got)
	}
	t.Setenv("ASYMJWT_JSON", "true")
	if got := mustRun(t, "", "keys", "list", "--dir", dir, "--json=false"); strings.HasPrefix(got, "[") {
		t.Errorf("--json=false did not win over ASYMJWT_JSON=true:\n%s", got)
	}

	// A bad value is a usage error naming the variable.
	t.Setenv("ASYMJWT_JSON", "maybe")
	wantFail(t, run(t, "", "keys", "list", "--dir", dir), 2, `invalid value "maybe" for ASYMJWT_JSON (--json): want true or false`)

	// An empty variable counts as unset.
	t.Setenv("ASYMJWT_JSON", "")
	t.Setenv("ASYMJWT_DIR", "")
	wantFail(t, run(t, "", "keys", "list"), 2, "give one of --dir and --db")
}

func TestRepeatableFlagFromEnvironment(t *testing.T) {
	t.Setenv("ASYMJWT_AUD", "orders, billing")
	t.Setenv("ASYMJWT_KEY", fixture("keys/ed25519.pem"))
	t.Setenv("ASYMJWT_USER", "billing")
	token := strings.TrimSpace(mustRun(t, "", "sign"))
	out := mustRun(t, "", "inspect", token, "--json")
	var got struct {
		Claims struct {
			Aud []string `json:"aud"`
		} `json:"claims"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Join(got.Claims.Aud, ",") != "orders,billing" {
		t.Errorf("aud %q, want [orders billing]\n%s", got.Claims.Aud, out)
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	up := newUpstream(t)
	t.Setenv("ASYMJWT_UPSTREAM", up.URL)
	t.Setenv("ASYMJWT_KEYS", keysDir(t))
	t.Setenv("ASYMJWT_AUD", "orders")
	t.Setenv("ASYMJWT_STRICT", "1")
	p := startProxy(t) // --listen and --log-format from flags
	billing := signer(t, "billing", "keys/ed25519.pem")
	tok, err := billing.Token()
	if err != nil {
		t.Fatal(err)
	}
	// --strict from the environment: a token without aud, qsh and bh is refused.
	if status, _, _ := send(t, &http.Client{}, "GET", p.url("/x"), "", billing.AuthorizationValue(tok), nil); status != 401 {
		t.Fatalf("unbound token: status %d, want 401", status)
	}
	for _, l := range logLines(t, p.logs) {
		if l["msg"] == "asymjwt proxy: listening" && l["strict"] != true {
			t.Errorf("listening line: %v", l)
		}
	}
}
