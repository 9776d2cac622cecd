package bench_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/asymjwt/asymjwt/bench"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

// tokens makes the tokens a case is tested with: valid ones and one per
// way of being wrong. Fresh cases get asymjwt tokens (a new nonce each),
// the others peer tokens.
type tokens struct {
	t   *testing.T
	c   bench.Case
	key bench.Key
}

func (tk tokens) asymjwt(key bench.Key, opts ...asymjwt.SignerOption) *asymjwt.Signer {
	tk.t.Helper()
	s, err := bench.SignerFor(key, opts...)
	if err != nil {
		tk.t.Fatal(err)
	}
	return s
}

func (tk tokens) must(tok string, err error) string {
	tk.t.Helper()
	if err != nil {
		tk.t.Fatal(err)
	}
	return tok
}

func (tk tokens) peer(key bench.Key, edit func(jwt.MapClaims)) string {
	tk.t.Helper()
	claims := bench.PeerClaims()
	if edit != nil {
		edit(claims)
	}
	return tk.must(bench.PeerToken(key, claims))
}

// fresh signs an asymjwt token with key and opts, bound to the benchmark
// request when the case's tokens are: a token that only one check should
// refuse must pass all the others.
func (tk tokens) fresh(key bench.Key, opts ...asymjwt.SignerOption) string {
	tk.t.Helper()
	if tk.c.Bound {
		s := tk.asymjwt(key, append(opts, asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())...)
		return tk.must(s.TokenFor(bench.Method, bench.Path, bench.RawQuery, nil))
	}
	return tk.must(tk.asymjwt(key, opts...).Token())
}

// signedBy returns a valid token from key: the client's, or a stranger's.
func (tk tokens) signedBy(key bench.Key) string {
	tk.t.Helper()
	if !tk.c.Fresh {
		return tk.peer(key, nil)
	}
	return tk.fresh(key)
}

func (tk tokens) valid() string { return tk.signedBy(tk.key) }

func (tk tokens) expired() string {
	if !tk.c.Fresh {
		return tk.peer(tk.key, func(c jwt.MapClaims) {
			c["iat"] = bench.TokenTime.Add(-2 * time.Hour).Unix()
			c["exp"] = bench.TokenTime.Add(-time.Hour).Unix()
		})
	}
	// Outside asymjwt's ±20 s.
	return tk.fresh(tk.key, asymjwt.WithClock(func() time.Time { return bench.TokenTime.Add(-time.Minute) }))
}

func (tk tokens) otherAudience() string {
	if !tk.c.Fresh {
		return tk.peer(tk.key, func(c jwt.MapClaims) { c["aud"] = bench.OtherAudience })
	}
	return tk.fresh(tk.key, asymjwt.WithAudience(bench.OtherAudience))
}

// otherRequest is bound (qsh, bh) to a request for another path.
func (tk tokens) otherRequest() string {
	if !tk.c.Fresh {
		qsh, err := asymjwt.QueryStringHash(bench.Method, bench.OtherPath, "", "")
		if err != nil {
			tk.t.Fatal(err)
		}
		return tk.peer(tk.key, func(c jwt.MapClaims) {
			c["qsh"] = qsh
			c["bh"] = asymjwt.BodyHash(nil)
		})
	}
	s := tk.asymjwt(tk.key, asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())
	return tk.must(s.TokenFor(bench.Method, bench.OtherPath, "", nil))
}

// unbound is valid but bound to no request.
func (tk tokens) unbound() string {
	if !tk.c.Fresh {
		return tk.peer(tk.key, nil)
	}
	return tk.must(tk.asymjwt(tk.key).Token())
}

// tampered changes one signature character away from the end, where
// base64's padding bits could hide the change from a lenient decoder.
func (tk tokens) tampered() string {
	tok := tk.valid()
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// forged keeps a valid payload under a header of the attacker's choosing:
// alg none with no signature, or HS256 keyed with the public key's PEM
// (the algorithm-confusion attack).
func (tk tokens) forged(alg string) string {
	valid := tk.valid()
	payload := valid[strings.IndexByte(valid, '.')+1 : strings.LastIndexByte(valid, '.')]
	header, err := json.Marshal(map[string]string{"alg": alg, "kid": tk.key.KID, "typ": "JWT"})
	if err != nil {
		tk.t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + payload
	if alg == "none" {
		return input + "."
	}
	pem, err := asymjwt.MarshalPublicKeyPEM(tk.key.Public)
	if err != nil {
		tk.t.Fatal(err)
	}
	mac := hmac.New(sha256.New, pem)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestCases proves each case authenticates for real: it accepts the
// valid token, refuses what every verifier must refuse, and refuses
// exactly what its Checks claim, so the table's "checks" columns and the
// benchmarks' success paths are both true.
func TestCases(t *testing.T) {
	for _, c := range bench.Cases() {
		t.Run(c.Name(), func(t *testing.T) {
			key, err := bench.ClientKey(c.Alg)
			if err != nil {
				t.Fatal(err)
			}
			stranger, err := bench.StrangerKey(c.Alg)
			if err != nil {
				t.Fatal(err)
			}
			target, err := c.New(key)
			if err != nil {
				t.Fatal(err)
			}
			tk := tokens{t: t, c: c, key: key}

			first := tk.valid()
			if got := target.Do(c.Credential(first)); got != bench.Handled {
				t.Fatalf("valid token: status %d, want %d", got, bench.Handled)
			}
			checks := []struct {
				name    string
				token   string
				refused bool
			}{
				{"replayed", first, c.Checks.Replay},
				{"expired", tk.expired(), c.Checks.Expiry},
				{"for another audience", tk.otherAudience(), c.Checks.Audience},
				{"bound to another request", tk.otherRequest(), c.Checks.Binding},
				{"bound to no request", tk.unbound(), c.Checks.RequireBinding},
				{"with a tampered signature", tk.tampered(), true},
				{"signed by an unregistered key", tk.signedBy(stranger), true},
				{"with alg none", tk.forged("none"), true},
				{"HS256-signed with the public key", tk.forged("HS256"), true},
				{"in no Authorization value", "", true},
			}
			for _, ch := range checks {
				cred := ""
				if ch.token != "" {
					cred = c.Credential(ch.token)
				}
				got := target.Do(cred)
				switch {
				case ch.refused && (got == bench.Handled || got < 400):
					t.Errorf("token %s: status %d, want a refusal", ch.name, got)
				case !ch.refused && got != bench.Handled:
					t.Errorf("token %s: status %d, want %d (the case claims no such check)", ch.name, got, bench.Handled)
				}
			}
		})
	}
}

// TestCaseTable checks the table is what the issue asks for: every
// library on RS256, every peer on its framework, unique names, and
// asymjwt beside each peer's framework.
func TestCaseTable(t *testing.T) {
	seen := map[string]bool{}
	libs := map[string]map[string]bool{} // LibID -> set of algs
	frameworks := map[string]bool{}
	for _, c := range bench.Cases() {
		if seen[c.Name()] {
			t.Errorf("duplicate case %s", c.Name())
		}
		seen[c.Name()] = true
		if libs[c.LibID] == nil {
			libs[c.LibID] = map[string]bool{}
		}
		libs[c.LibID][c.Alg] = true
		if c.LibID == "asymjwt" {
			frameworks[c.Framework] = true
		}
		if c.Fresh != strings.HasPrefix(c.LibID, "asymjwt") {
			t.Errorf("%s: Fresh is %t: only asymjwt refuses replays", c.Name(), c.Fresh)
		}
		if (c.Framework == bench.Bare) != (c.Scheme == "") {
			t.Errorf("%s: scheme %q on framework %s", c.Name(), c.Scheme, c.Framework)
		}
	}
	for _, lib := range []string{"floor", "golang-jwt", "asymjwt", "asymjwt-strict", "auth0", "echo-jwt", "jwtware", "gin-jwt"} {
		if !libs[lib][asymjwt.RS256] {
			t.Errorf("no RS256 case for %s", lib)
		}
	}
	for _, lib := range []string{"floor", "golang-jwt", "asymjwt", "auth0", "echo-jwt", "jwtware"} {
		for _, alg := range []string{asymjwt.ES256, asymjwt.EdDSA} {
			if !libs[lib][alg] {
				t.Errorf("no %s case for %s, which supports it", alg, lib)
			}
		}
	}
	for _, f := range bench.Frameworks {
		if !frameworks[f.ID] {
			t.Errorf("no asymjwt case on %s", f.Name)
		}
	}
}

// TestBaselines checks the baselines reach their handler with any
// credential or none: they measure the framework alone.
func TestBaselines(t *testing.T) {
	for _, c := range bench.Baselines() {
		t.Run(c.Framework, func(t *testing.T) {
			target, err := c.New(bench.Key{})
			if err != nil {
				t.Fatal(err)
			}
			for _, cred := range []string{"", "Bearer not-a-token"} {
				if got := target.Do(cred); got != bench.Handled {
					t.Errorf("credential %q: status %d, want %d", cred, got, bench.Handled)
				}
			}
		})
	}
}

// TestFreshTokens checks the pools hand out distinct, valid tokens and
// keep their prefix as they grow, which the benchmarks rely on.
func TestFreshTokens(t *testing.T) {
	for _, bound := range []bool{false, true} {
		first, err := bench.FreshTokens(asymjwt.EdDSA, bound, 3)
		if err != nil {
			t.Fatal(err)
		}
		more, err := bench.FreshTokens(asymjwt.EdDSA, bound, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != 3 || len(more) != 50 {
			t.Fatalf("bound=%t: got %d and %d tokens, want 3 and 50", bound, len(first), len(more))
		}
		seen := map[string]bool{}
		for i, tok := range more {
			if i < len(first) && first[i] != tok {
				t.Errorf("bound=%t: token %d changed as the pool grew", bound, i)
			}
			if seen[tok] {
				t.Errorf("bound=%t: token %d repeats", bound, i)
			}
			seen[tok] = true
		}
		key, err := bench.ClientKey(asymjwt.EdDSA)
		if err != nil {
			t.Fatal(err)
		}
		v, err := bench.NewVerifier(key, bound)
		if err != nil {
			t.Fatal(err)
		}
		for i, tok := range more {
			req := &asymjwt.Request{Method: bench.Method, Path: bench.Path, RawQuery: bench.RawQuery}
			id, err := v.VerifyToken(t.Context(), tok, req)
			if err != nil {
				t.Fatalf("bound=%t: token %d refused: %v", bound, i, err)
			}
			if id.RequestBound != bound || id.BodyBound != bound {
				t.Fatalf("bound=%t: token %d has request bound %t, body bound %t", bound, i, id.RequestBound, id.BodyBound)
			}
		}
	}
}

// TestClock checks a verifier's clock starts at TokenTime and runs.
func TestClock(t *testing.T) {
	now := bench.Clock()
	a := now()
	if d := a.Sub(bench.TokenTime); d < 0 || d > time.Second {
		t.Fatalf("clock starts %v after TokenTime, want within a second", d)
	}
	time.Sleep(5 * time.Millisecond)
	if b := now(); !b.After(a) {
		t.Fatalf("clock did not advance: %v then %v", a, b)
	}
}
