package cli_test

import (
	"net/http"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// A token made with --aud, refused by a verify or a proxy started without
// --aud: the reason names the flag, not the library option.
func TestAudienceHintNamesFlag(t *testing.T) {
	t.Parallel()
	token := strings.TrimSpace(mustRun(t, "", "sign", "--key", fixture("keys/ed25519.pem"), "--user", "billing", "--aud", "orders"))

	r := run(t, "", "verify", "--pub", fixture("keys/ed25519.pem.pub"), token)
	wantFail(t, r, 1, "(set one with --aud)")
	if strings.Contains(r.stderr, "WithAudience") {
		t.Errorf("verify names the library option: %q", r.stderr)
	}

	u := newUpstream(t)
	p := startProxy(t, "--upstream", u.URL, "--keys", keysDir(t))
	s := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"))
	tok, err := s.Token()
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/v1/orders"), "", s.AuthorizationValue(tok), nil); status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", status)
	}
	var reason string
	for _, l := range logLines(t, p.logs) {
		if l["msg"] == "asymjwt: authentication refused" {
			reason, _ = l["reason"].(string)
		}
	}
	if !strings.Contains(reason, "(set one with --aud)") || strings.Contains(reason, "WithAudience") {
		t.Errorf("proxy logs reason %q, want one naming --aud:\n%s", reason, p.logs)
	}
	if len(u.requests()) != 0 {
		t.Error("the refused request reached the upstream")
	}
}
