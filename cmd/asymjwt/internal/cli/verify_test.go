package cli_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// coreToken makes a token with core directly, for what the CLI cannot
// make on purpose: tokens from another time.
func coreToken(t testing.TB, keyFile, user string, opts ...asymjwt.SignerOption) string {
	t.Helper()
	key, err := asymjwt.ParsePrivateKey(readFile(t, fixture(keyFile)), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := asymjwt.NewSigner(user, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func clockAt(d time.Duration) asymjwt.ClockOption {
	return asymjwt.WithClock(func() time.Time { return time.Now().Add(d) })
}

// tamper replaces old with new in the token's claims, keeping the signature.
func tamper(t testing.TB, token, old, new string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || !strings.Contains(string(claims), old) {
		t.Fatalf("claims %s lack %q", claims, old)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), old, new, 1)))
	return strings.Join(parts, ".")
}

func TestVerifyAccepts(t *testing.T) {
	priv, pub := fixture("keys/ed25519.pem"), fixture("keys/ed25519.pem.pub")
	sign := func(args ...string) string {
		return strings.TrimSpace(mustRun(t, "", append([]string{"sign", "--key", priv, "--user", "billing"}, args...)...))
	}
	kid := strings.TrimSpace(mustRun(t, "", "fingerprint", pub))
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string // a line of the text output, or a JSON member
	}{
		{"bare token", "", []string{"--pub", pub, "--user", "billing", sign()}, "username:      billing\n"},
		{"user taken from the token", "", []string{"--pub", pub, sign()}, "username:      billing\n"},
		{"private key file as --pub", "", []string{"--pub", priv, sign()}, "kid:           " + kid + "\n"},
		{"scheme and token", "", []string{"--pub", pub, "JWT " + sign()}, "algorithm:     EdDSA\n"},
		{"stdin, Authorization line", sign("--header") + "\n", []string{"--pub", pub, "-"}, "audience:      (none)\n"},
		{"audience", "", []string{"--pub", pub, "--aud", "orders", "--aud", "billing", sign("--aud", "orders")}, "audience:      orders\n"},
		{"json", "", []string{"--pub", pub, "--json", "--aud", "b", sign("--aud", "a", "--aud", "b")}, `"audience": [` + "\n" + `    "a",` + "\n" + `    "b"` + "\n  ],"},
		{"json without audience", "", []string{"--pub", pub, "--json", sign()}, `"audience": [],`},
		{"bound request", "", []string{"--pub", pub, "--url", "https://x/v1/a?b=1&a=2", sign("--url", "/v1/a?a=2&b=1")}, "request bound: true\nbody bound:    true\n"},
		{"bound request with body", "", []string{"--pub", pub, "--method", "put", "--url", "/v1/a", "--body", fixture("token.txt"), sign("--url", "/v1/a", "-method", "PUT", "--body", fixture("token.txt"))}, "request bound: true\n"},
		{"wide tolerance", "", []string{"--pub", pub, "--tolerance", "45m", coreToken(t, "keys/ed25519.pem", "billing", clockAt(-30*time.Minute))}, "username:      billing\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustRun(t, tt.stdin, append([]string{"verify"}, tt.args...)...)
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
		})
	}

	out := mustRun(t, "", "verify", "--pub", pub, sign())
	re := regexp.MustCompile(`^username:      billing
kid:           [0-9a-f]{64}
algorithm:     EdDSA
time:          \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ
nonce:         [A-Za-z0-9_-]{22}
audience:      \(none\)
request bound: false
body bound:    false
$`)
	if !re.MatchString(out) {
		t.Errorf("text output:\n%s", out)
	}
	var id struct {
		Username, Kid, Algorithm, Time, Nonce string
		Audience                              []string
		RequestBound                          bool `json:"request_bound"`
		BodyBound                             bool `json:"body_bound"`
	}
	out = mustRun(t, "", "verify", "--pub", pub, "--json", "--aud", "orders", "--url", "/x", sign("--aud", "orders", "--url", "/x"))
	if err := json.Unmarshal([]byte(out), &id); err != nil {
		t.Fatal(err)
	}
	issued, err := time.Parse(time.RFC3339, id.Time)
	if id.Username != "billing" || id.Kid != kid || id.Algorithm != "EdDSA" || len(id.Nonce) != 22 ||
		len(id.Audience) != 1 || id.Audience[0] != "orders" || !id.RequestBound || !id.BodyBound ||
		err != nil || time.Since(issued) > time.Minute {
		t.Errorf("identity %+v", id)
	}
}

// Every refusal: exit 1, the reason on stderr, nothing on stdout.
func TestVerifyRefuses(t *testing.T) {
	priv, pub := fixture("keys/ed25519.pem"), fixture("keys/ed25519.pem.pub")
	sign := func(args ...string) string {
		return strings.TrimSpace(mustRun(t, "", append([]string{"sign", "--key", priv, "--user", "billing"}, args...)...))
	}
	good := sign()
	tests := []struct {
		name string
		args []string
		want error
		msg  string
	}{
		{"another key", []string{"--pub", fixture("keys/p256.pem.pub"), good}, asymjwt.ErrUnknownKey, `token claims user "billing"`},
		{"another user", []string{"--pub", pub, "--user", "shipping", good}, asymjwt.ErrUnknownUser, `token claims user "billing"`},
		{"tampered claims", []string{"--pub", pub, tamper(t, good, `"billing"`, `"billinh"`)}, asymjwt.ErrSignature, `token claims user "billinh"`},
		{"stale", []string{"--pub", pub, coreToken(t, "keys/ed25519.pem", "billing", clockAt(-time.Minute))}, asymjwt.ErrStale, ""},
		{"from the future", []string{"--pub", pub, coreToken(t, "keys/ed25519.pem", "billing", clockAt(time.Minute))}, asymjwt.ErrStale, ""},
		{"narrow tolerance", []string{"--pub", pub, "--tolerance", "1s", coreToken(t, "keys/ed25519.pem", "billing", clockAt(-10*time.Second))}, asymjwt.ErrStale, ""},
		{"wrong audience", []string{"--pub", pub, "--aud", "billing", sign("--aud", "orders")}, asymjwt.ErrAudience, ""},
		{"audience where none is expected", []string{"--pub", pub, sign("--aud", "orders")}, asymjwt.ErrAudience, ""},
		{"bound token, no request", []string{"--pub", pub, sign("--url", "/v1/a")}, asymjwt.ErrRequestMismatch, ""},
		{"bound token, other path", []string{"--pub", pub, "--url", "/v1/b", sign("--url", "/v1/a")}, asymjwt.ErrRequestMismatch, ""},
		{"bound token, other query", []string{"--pub", pub, "--url", "/v1/a?x=2", sign("--url", "/v1/a?x=1")}, asymjwt.ErrRequestMismatch, ""},
		{"bound token, other method", []string{"--pub", pub, "--url", "/v1/a", "--method", "DELETE", sign("--url", "/v1/a")}, asymjwt.ErrRequestMismatch, ""},
		{"bound token, other body", []string{"--pub", pub, "--url", "/v1/a", "--body", fixture("keys/ed25519.pem.pub"), sign("--url", "/v1/a", "--body", fixture("token.txt"))}, asymjwt.ErrRequestMismatch, ""},
		{"bound token, body missing", []string{"--pub", pub, "--url", "/v1/a", "--method", "POST", sign("--url", "/v1/a", "--body", fixture("token.txt"))}, asymjwt.ErrRequestMismatch, ""},
		{"malformed", []string{"--pub", pub, "a.b.c"}, asymjwt.ErrMalformed, ""},
		{"not compact", []string{"--pub", pub, "garbage"}, asymjwt.ErrMalformed, ""},
		{"no kid, wrong alg", []string{"--pub", fixture("keys/rsa.pem.pub"), "--user", "billing", stripKID(t, good)}, asymjwt.ErrAlgorithm, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", append([]string{"verify"}, tt.args...)...)
			wantFail(t, r, 1, "refused")
			if !strings.Contains(r.stderr, tt.want.Error()) || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("stderr %q lacks %q / %q", r.stderr, tt.want, tt.msg)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
	wantFail(t, run(t, "", "verify", "--pub", pub, "a b c d"), 1, asymjwt.ErrScheme.Error())
	wantFail(t, run(t, "", "verify", "--pub", pub, "-"), 1, "not a token")
	wantFail(t, run(t, "", "verify", "--pub", pub, "--url", "/", "--body", "/nonexistent", good), 1, "no such file")
}

// stripKID re-encodes the header without kid (the signature no longer
// matters: the alg check comes first).
func stripKID(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	parts[0] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT"}`))
	return strings.Join(parts, ".")
}

func TestSign(t *testing.T) {
	priv := fixture("keys/p256.pem")
	kid := strings.TrimSpace(mustRun(t, "", "fingerprint", priv))
	type decoded struct {
		Verified bool
		Header   map[string]any
		Claims   map[string]any
	}
	inspect := func(token string) decoded {
		t.Helper()
		var d decoded
		if err := json.Unmarshal([]byte(mustRun(t, token, "inspect", "--json", "-")), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	body := readFile(t, fixture("token.txt"))
	qsh := func(method, path, query string) string {
		h, err := asymjwt.QueryStringHash(method, path, query, "")
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		name   string
		args   []string
		stdin  string
		claims map[string]any // nil: claim absent
	}{
		{"plain", nil, "", map[string]any{"aud": nil, "qsh": nil, "bh": nil}},
		{"one audience", []string{"--aud", "orders"}, "", map[string]any{"aud": "orders"}},
		{"two audiences", []string{"--aud", "orders", "--aud", "billing"}, "", map[string]any{"aud": []any{"orders", "billing"}}},
		{"GET by default", []string{"--url", "https://h:8443/v1/orders?b=2&a=1"}, "", map[string]any{
			"qsh": qsh("GET", "/v1/orders", "a=1&b=2"), "bh": asymjwt.BodyHash(nil)}},
		{"POST with a body", []string{"--url", "/v1/orders", "--body", fixture("token.txt")}, "", map[string]any{
			"qsh": qsh("POST", "/v1/orders", ""), "bh": asymjwt.BodyHash(body)}},
		{"body from stdin", []string{"--url", "/v1/orders", "--method", "patch", "--body", "-"}, string(body), map[string]any{
			"qsh": qsh("PATCH", "/v1/orders", ""), "bh": asymjwt.BodyHash(body)}},
		{"escaped path", []string{"--url", "/a%2Fb/c%20d"}, "", map[string]any{"qsh": qsh("GET", "/a%2Fb/c%20d", "")}},
		{"bound to the request only", []string{"--url", "/v1/orders?a=1", "--method", "DELETE", "--bind", "request"}, "", map[string]any{
			"qsh": qsh("DELETE", "/v1/orders", "a=1"), "bh": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustRun(t, tt.stdin, append([]string{"sign", "--key", priv, "--user", "billing"}, tt.args...)...)
			if strings.Count(out, "\n") != 1 || strings.Count(out, ".") != 2 {
				t.Fatalf("not one token line: %q", out)
			}
			d := inspect(out)
			if d.Verified || d.Header["alg"] != "ES256" || d.Header["kid"] != kid || d.Header["typ"] != "JWT" {
				t.Errorf("header %v", d.Header)
			}
			if d.Claims["username"] != "billing" || d.Claims["nonce"] == nil {
				t.Errorf("claims %v", d.Claims)
			}
			if ts, _ := d.Claims["time"].(float64); time.Since(time.Unix(int64(ts), 0)).Abs() > time.Minute {
				t.Errorf("time claim %v", d.Claims["time"])
			}
			for name, want := range tt.claims {
				got, ok := d.Claims[name]
				if want == nil {
					if ok {
						t.Errorf("claim %s = %v, want none", name, got)
					}
					continue
				}
				if gotJSON, _ := json.Marshal(got); !ok || string(gotJSON) != string(must(json.Marshal(want))) {
					t.Errorf("claim %s = %v, want %v", name, got, want)
				}
			}
		})
	}

	out := mustRun(t, "", "sign", "--key", priv, "--user", "billing", "--header")
	token, ok := strings.CutPrefix(strings.TrimSuffix(out, "\n"), "Authorization: JWT ")
	if !ok || strings.ContainsAny(token, " \n") {
		t.Fatalf("--header printed %q", out)
	}
	mustRun(t, "", "verify", "--pub", priv, token)
	// Two tokens are never the same: fresh nonce each time.
	if a, b := mustRun(t, "", "sign", "--key", priv, "--user", "u"), mustRun(t, "", "sign", "--key", priv, "--user", "u"); a == b {
		t.Error("two runs made the same token")
	}
	wantFail(t, run(t, "", "sign", "--key", priv, "--user", strings.Repeat("u", 257)), 1, "username must be 1-256 bytes")
	wantFail(t, run(t, "", "sign", "--key", priv, "--user", "u", "--url", "/", "--body", "/nonexistent"), 1, "no such file")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestInspect(t *testing.T) {
	token := strings.TrimSpace(string(readFile(t, fixture("token.txt"))))
	out := mustRun(t, "", "inspect", token)
	golden(t, "inspect.txt", out)
	if !strings.HasPrefix(out, "UNVERIFIED") {
		t.Error("output not marked UNVERIFIED first")
	}
	golden(t, "inspect.json", mustRun(t, "", "inspect", "--json", token))
	// The same from stdin and as a header line.
	if got := mustRun(t, "Authorization: JWT "+token+"\n", "inspect", "-"); got != out {
		t.Errorf("from stdin:\n%s", got)
	}

	for _, tt := range []struct{ token, want string }{
		{"abc", "three dot-separated parts"},
		{"a.b.c.d", "three dot-separated parts"},
		{"!!.e30.x", "header: bad base64url"},
		{"e30.!!.x", "claims: bad base64url"},
		{"W10.e30.x", "header is not a JSON object"},
		{"e30.bnVsbA.x", "claims is not a JSON object"},
		{"a b c d", asymjwt.ErrScheme.Error()},
		{"Bearer e30.e30.x", asymjwt.ErrScheme.Error()},
	} {
		r := run(t, "", "inspect", tt.token)
		wantFail(t, r, 1, tt.want)
		if r.stdout != "" {
			t.Errorf("%s: stdout %q", tt.token, r.stdout)
		}
	}
	// Decoding is all it does: an unsigned token decodes, still UNVERIFIED.
	if out := mustRun(t, "", "inspect", "e30.e30.x"); !strings.HasPrefix(out, "UNVERIFIED") {
		t.Errorf("got %q", out)
	}
}

// verify takes "SCHEME TOKEN" and "Authorization: SCHEME TOKEN" only
// where a server would: the scheme goes through the verifier's own
// header parsing.
func TestVerifyChecksSchemeAsServer(t *testing.T) {
	priv, pub := fixture("keys/ed25519.pem"), fixture("keys/ed25519.pem.pub")
	sign := func() string {
		return strings.TrimSpace(mustRun(t, "", "sign", "--key", priv, "--user", "billing"))
	}
	for _, tt := range []struct {
		name, format string
		ok           bool
	}{
		{"bare", "%s", true},
		{"JWT", "JWT %s", true},
		{"jwt (schemes are case-insensitive)", "jwt %s", true},
		{"header line", "Authorization: JWT %s", true},
		{"header line, lower case", "authorization:JWT %s", true},
		{"Bearer", "Bearer %s", false},
		{"Token", "Token %s", false},
		{"header line with Bearer", "Authorization: Bearer %s", false},
		{"header line with Token", "Authorization: Token %s", false},
		{"two tokens", "JWT %[1]s %[1]s", false},
		{"scheme glued on", "JWT:%s", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			arg := fmt.Sprintf(tt.format, sign())
			for _, in := range []struct{ stdin, arg string }{{"", arg}, {arg + "\n", "-"}} {
				r := run(t, in.stdin, "verify", "--pub", pub, in.arg)
				if tt.ok {
					if r.code != 0 {
						t.Fatalf("refused %q: %s", arg, r.stderr)
					}
					continue
				}
				wantFail(t, r, 1, "refused")
			}
		})
	}
	wantFail(t, run(t, "", "verify", "--pub", pub, "Bearer "+sign()), 1, asymjwt.ErrScheme.Error())
}
