package asymjwt_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/golang-jwt/jwt/v5"
)

const now = 1_700_000_000

// party is a registered client: its key and kid.
type party struct {
	key crypto.Signer
	kid string
}

func newParty(t testing.TB, keys *asymjwt.MemoryKeyStore, username, kind string) party {
	t.Helper()
	key, err := asymjwt.GenerateKey(kind)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := keys.Add(username, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return party{key: key, kid: kid}
}

// forge signs arbitrary header and claims JSON with method and key, so
// tests can make every kind of bad token.
func forge(t testing.TB, method jwt.SigningMethod, key any, header, claims string) string {
	t.Helper()
	input := b64(header) + "." + b64(claims)
	sig, err := method.Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func hdr(alg, kid string) string {
	if kid == "" {
		return fmt.Sprintf(`{"alg":%q,"typ":"JWT"}`, alg)
	}
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, alg, kid)
}

func claims(username string, t int64, extra string) string {
	return fmt.Sprintf(`{"username":%q,"time":%d,"nonce":"n-%d-%s"%s}`, username, t, t, randomSuffix(), extra)
}

var nonceCounter atomic.Int64

func randomSuffix() string { return fmt.Sprint(nonceCounter.Add(1)) }

type world struct {
	keys                  *asymjwt.MemoryKeyStore
	alice, bob, aliceP384 party
	aliceRSA, aliceEd     party
}

func newWorld(t testing.TB) *world {
	keys := asymjwt.NewMemoryKeyStore()
	w := &world{keys: keys}
	w.alice = newParty(t, keys, "alice", "p256")
	w.aliceP384 = newParty(t, keys, "alice", "p384")
	w.aliceRSA = newParty(t, keys, "alice", "rsa")
	w.aliceEd = newParty(t, keys, "alice", "ed25519")
	w.bob = newParty(t, keys, "bob", "ed25519")
	return w
}

func TestVerifyRejects(t *testing.T) {
	w := newWorld(t)
	rsaPEM, _ := asymjwt.MarshalPublicKeyPEM(w.aliceRSA.key.Public())
	pinnedKeys := asymjwt.NewMemoryKeyStore()
	pinnedRSA, _ := asymjwt.GenerateKey("rsa")
	pinned, _ := asymjwt.NewPinnedKey(pinnedRSA.Public(), "PS256")
	pinnedKID, _ := pinnedKeys.Add("carol", pinned)

	good := func(extra string) string {
		return forge(t, jwt.SigningMethodES256, w.alice.key, hdr("ES256", w.alice.kid), claims("alice", now, extra))
	}
	withClaims := func(c string) string {
		return forge(t, jwt.SigningMethodES256, w.alice.key, hdr("ES256", w.alice.kid), c)
	}
	withHeader := func(h string) string {
		return forge(t, jwt.SigningMethodES256, w.alice.key, h, claims("alice", now, ""))
	}
	tamper := func(token string, part int, fn func([]byte) []byte) string {
		parts := strings.Split(token, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(parts[part])
		parts[part] = base64.RawURLEncoding.EncodeToString(fn(raw))
		return strings.Join(parts, ".")
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	}

	tests := []struct {
		name  string
		token string
		opts  []asymjwt.VerifierOption
		keys  asymjwt.KeyStore
		want  error
	}{
		// Algorithms: the key decides.
		{name: "alg none, empty signature", token: b64(`{"alg":"none"}`) + "." + b64(claims("alice", now, "")) + ".", want: asymjwt.ErrMalformed},
		{name: "alg none, any signature", token: b64(`{"alg":"none"}`) + "." + b64(claims("alice", now, "")) + ".AAAA", want: asymjwt.ErrAlgorithm},
		{name: "alg none with kid", token: b64(hdr("none", w.alice.kid)) + "." + b64(claims("alice", now, "")) + ".AAAA", want: asymjwt.ErrAlgorithm},
		{name: "HS256 keyed with the public key PEM", token: forge(t, jwt.SigningMethodHS256, rsaPEM, hdr("HS256", w.aliceRSA.kid), claims("alice", now, "")), want: asymjwt.ErrAlgorithm},
		{name: "HS256 without kid", token: forge(t, jwt.SigningMethodHS256, rsaPEM, hdr("HS256", ""), claims("alice", now, "")), want: asymjwt.ErrAlgorithm},
		{name: "lowercase alg", token: forge(t, jwt.SigningMethodES256, w.alice.key, hdr("es256", w.alice.kid), claims("alice", now, "")), want: asymjwt.ErrAlgorithm},
		{name: "RS256 on a key pinned to PS256", token: forge(t, jwt.SigningMethodRS256, pinnedRSA, hdr("RS256", pinnedKID), claims("carol", now, "")), keys: pinnedKeys, want: asymjwt.ErrAlgorithm},
		{name: "PS256 label on an RS256 signature", token: forge(t, jwt.SigningMethodRS256, w.aliceRSA.key, hdr("PS256", w.aliceRSA.kid), claims("alice", now, "")), want: asymjwt.ErrSignature},
		{name: "ES256 on a P-384 key", token: forge(t, jwt.SigningMethodES384, w.aliceP384.key, hdr("ES256", w.aliceP384.kid), claims("alice", now, "")), want: asymjwt.ErrAlgorithm},
		{name: "EdDSA on an RSA key", token: forge(t, jwt.SigningMethodEdDSA, w.aliceEd.key, hdr("EdDSA", w.aliceRSA.kid), claims("alice", now, "")), want: asymjwt.ErrAlgorithm},
		{name: "RS512 on an Ed25519 key", token: forge(t, jwt.SigningMethodRS512, w.aliceRSA.key, hdr("RS512", w.aliceEd.kid), claims("alice", now, "")), want: asymjwt.ErrAlgorithm},
		// Users and keys.
		{name: "kid of another user's key", token: forge(t, jwt.SigningMethodEdDSA, w.bob.key, hdr("EdDSA", w.bob.kid), claims("alice", now, "")), want: asymjwt.ErrUnknownKey},
		{name: "another user's key, no kid", token: forge(t, jwt.SigningMethodEdDSA, w.bob.key, hdr("EdDSA", ""), claims("alice", now, "")), want: asymjwt.ErrSignature},
		{name: "unknown user", token: forge(t, jwt.SigningMethodEdDSA, w.bob.key, hdr("EdDSA", w.bob.kid), claims("mallory", now, "")), want: asymjwt.ErrUnknownUser},
		{name: "unknown kid", token: withHeader(hdr("ES256", strings.Repeat("0", 64))), want: asymjwt.ErrUnknownKey},
		// Time.
		{name: "21 s old", token: withClaims(claims("alice", now-21, "")), want: asymjwt.ErrStale},
		{name: "21 s ahead", token: withClaims(claims("alice", now+21, "")), want: asymjwt.ErrStale},
		{name: "year 1970", token: withClaims(claims("alice", 0, "")), want: asymjwt.ErrStale},
		{name: "tolerance 5 s, 6 s old", token: withClaims(claims("alice", now-6, "")), opts: []asymjwt.VerifierOption{asymjwt.WithTolerance(5 * time.Second)}, want: asymjwt.ErrStale},
		// Claims.
		{name: "username missing", token: withClaims(`{"time":1700000000,"nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "username empty", token: withClaims(`{"username":"","time":1700000000,"nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "username number", token: withClaims(`{"username":42,"time":1700000000,"nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "username null", token: withClaims(`{"username":null,"time":1700000000,"nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "username too long", token: withClaims(`{"username":"` + strings.Repeat("a", 257) + `","time":1700000000,"nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "username in other case", token: withClaims(`{"Username":"alice","time":1700000000,"nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "time missing", token: withClaims(`{"username":"alice","nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "time as string", token: withClaims(`{"username":"alice","time":"1700000000","nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "time as float", token: withClaims(`{"username":"alice","time":1700000000.0,"nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "time as exponent", token: withClaims(`{"username":"alice","time":1.7e9,"nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "time overflows", token: withClaims(`{"username":"alice","time":99999999999999999999,"nonce":"n"}`), want: asymjwt.ErrMalformed},
		{name: "nonce missing", token: withClaims(`{"username":"alice","time":1700000000}`), want: asymjwt.ErrMalformed},
		{name: "nonce empty", token: withClaims(`{"username":"alice","time":1700000000,"nonce":""}`), want: asymjwt.ErrMalformed},
		{name: "nonce number", token: withClaims(`{"username":"alice","time":1700000000,"nonce":7}`), want: asymjwt.ErrMalformed},
		{name: "nonce 129 bytes", token: withClaims(`{"username":"alice","time":1700000000,"nonce":"` + strings.Repeat("n", 129) + `"}`), want: asymjwt.ErrMalformed},
		{name: "claims an array", token: withClaims(`["alice"]`), want: asymjwt.ErrMalformed},
		{name: "claims not JSON", token: withClaims(`{"username":"alice",`), want: asymjwt.ErrMalformed},
		{name: "aud a number", token: good(`,"aud":5`), opts: []asymjwt.VerifierOption{asymjwt.WithAudience("api")}, want: asymjwt.ErrMalformed},
		{name: "qsh a number", token: good(`,"qsh":5`), want: asymjwt.ErrMalformed},
		// Header.
		{name: "header not JSON", token: withHeader(`{"alg":`), want: asymjwt.ErrMalformed},
		{name: "alg missing", token: withHeader(`{"kid":"x"}`), want: asymjwt.ErrMalformed},
		{name: "alg not a string", token: withHeader(`{"alg":256}`), want: asymjwt.ErrMalformed},
		{name: "typ JWE", token: withHeader(`{"alg":"ES256","typ":"JWE"}`), want: asymjwt.ErrMalformed},
		{name: "crit header", token: withHeader(`{"alg":"ES256","crit":["exp"],"exp":1}`), want: asymjwt.ErrMalformed},
		{name: "kid 129 bytes", token: withHeader(hdr("ES256", strings.Repeat("k", 129))), want: asymjwt.ErrMalformed},
		// Serialization.
		{name: "empty", token: "", want: asymjwt.ErrMalformed},
		{name: "two parts", token: "a.b", want: asymjwt.ErrMalformed},
		{name: "four parts", token: good("") + ".AAAA", want: asymjwt.ErrMalformed},
		{name: "padding", token: good("") + "==", want: asymjwt.ErrMalformed},
		{name: "newline inside", token: strings.Replace(good(""), ".", ".\n", 1), want: asymjwt.ErrMalformed},
		{name: "standard base64 alphabet", token: strings.Replace(good(""), "-", "+", 1) + "/", want: asymjwt.ErrMalformed},
		{name: "JSON serialization", token: `{"payload":"x","signatures":[]}`, want: asymjwt.ErrMalformed},
		{name: "over size limit", token: good(`,"pad":"` + strings.Repeat("x", 8192) + `"`), want: asymjwt.ErrTokenTooLarge},
		{name: "over configured size limit", token: good(""), opts: []asymjwt.VerifierOption{asymjwt.WithMaxTokenSize(100)}, want: asymjwt.ErrTokenTooLarge},
		// Tampering.
		{name: "tampered header", token: tamper(good(""), 0, replace(`"typ":"JWT"`, `"typ":"JWT","x":1`)), want: asymjwt.ErrSignature},
		{name: "tampered payload", token: tamper(good(""), 1, replace(`"alice"`, `"alicf"`)), want: asymjwt.ErrUnknownUser},
		{name: "tampered payload time", token: tamper(good(""), 1, replace(`"time":1700000000`, `"time":1700000001`)), want: asymjwt.ErrSignature},
		{name: "tampered signature", token: tamper(good(""), 2, func(b []byte) []byte { b[0] ^= 1; return b }), want: asymjwt.ErrSignature},
		{name: "truncated signature", token: tamper(good(""), 2, func(b []byte) []byte { return b[:len(b)-1] }), want: asymjwt.ErrSignature},
		// Audience.
		{name: "aud for another service", token: good(`,"aud":"billing"`), opts: []asymjwt.VerifierOption{asymjwt.WithAudience("orders")}, want: asymjwt.ErrAudience},
		{name: "aud list without us", token: good(`,"aud":["billing","users"]`), opts: []asymjwt.VerifierOption{asymjwt.WithAudience("orders")}, want: asymjwt.ErrAudience},
		{name: "aud empty list", token: good(`,"aud":[]`), opts: []asymjwt.VerifierOption{asymjwt.WithAudience("orders")}, want: asymjwt.ErrAudience},
		{name: "aud but verifier has none", token: good(`,"aud":"orders"`), want: asymjwt.ErrAudience},
		{name: "aud required, absent", token: good(""), opts: []asymjwt.VerifierOption{asymjwt.WithAudience("orders"), asymjwt.RequireAudience()}, want: asymjwt.ErrAudience},
		// Request binding through Verify, which has no request.
		{name: "qsh without a request", token: good(`,"qsh":"00"`), want: asymjwt.ErrRequestMismatch},
		{name: "bh without a request", token: good(`,"bh":"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"`), want: asymjwt.ErrRequestMismatch},
		{name: "binding required, absent", token: good(""), opts: []asymjwt.VerifierOption{asymjwt.RequireRequestBinding()}, want: asymjwt.ErrRequestMismatch},
		{name: "body hash required, absent", token: good(""), opts: []asymjwt.VerifierOption{asymjwt.RequireBodyHash()}, want: asymjwt.ErrRequestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := tt.keys
			if keys == nil {
				keys = w.keys
			}
			replay := asymjwt.NewMemoryReplayStore()
			opts := append([]asymjwt.VerifierOption{asymjwt.WithClock(fixedClock(now)), asymjwt.WithReplayStore(replay)}, tt.opts...)
			v := newTestVerifier(t, keys, opts...)
			id, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if id != nil {
				t.Fatal("identity returned with an error")
			}
			if replay.Len() != 0 {
				t.Fatal("a refused token was recorded in the replay store")
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name  string
		token string
		opts  []asymjwt.VerifierOption
	}{
		{"exactly 20 s old", forge(t, jwt.SigningMethodES256, w.alice.key, hdr("ES256", w.alice.kid), claims("alice", now-20, "")), nil},
		{"exactly 20 s ahead", forge(t, jwt.SigningMethodES256, w.alice.key, hdr("ES256", w.alice.kid), claims("alice", now+20, "")), nil},
		{"no kid: tries the user's keys", forge(t, jwt.SigningMethodEdDSA, w.aliceEd.key, hdr("EdDSA", ""), claims("alice", now, "")), nil},
		{"no typ", forge(t, jwt.SigningMethodEdDSA, w.aliceEd.key, `{"alg":"EdDSA"}`, claims("alice", now, "")), nil},
		{"typ asymjwt+jwt", forge(t, jwt.SigningMethodEdDSA, w.aliceEd.key, `{"alg":"EdDSA","typ":"asymjwt+jwt"}`, claims("alice", now, "")), nil},
		{"PS256 on RSA", forge(t, jwt.SigningMethodPS256, w.aliceRSA.key, hdr("PS256", w.aliceRSA.kid), claims("alice", now, "")), nil},
		{"RS256 on RSA", forge(t, jwt.SigningMethodRS256, w.aliceRSA.key, hdr("RS256", w.aliceRSA.kid), claims("alice", now, "")), nil},
		{"ES384", forge(t, jwt.SigningMethodES384, w.aliceP384.key, hdr("ES384", w.aliceP384.kid), claims("alice", now, "")), nil},
		{"unknown claims ignored", forge(t, jwt.SigningMethodES256, w.alice.key, hdr("ES256", w.alice.kid), claims("alice", now, `,"exp":1,"iss":"x"`)), nil},
		{"aud in a list", forge(t, jwt.SigningMethodES256, w.alice.key, hdr("ES256", w.alice.kid), claims("alice", now, `,"aud":["a","orders"]`)), []asymjwt.VerifierOption{asymjwt.WithAudience("orders", "orders-v2"), asymjwt.RequireAudience()}},
		{"wider tolerance", forge(t, jwt.SigningMethodES256, w.alice.key, hdr("ES256", w.alice.kid), claims("alice", now-50, "")), []asymjwt.VerifierOption{asymjwt.WithTolerance(time.Minute)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, w.keys, append([]asymjwt.VerifierOption{asymjwt.WithClock(fixedClock(now))}, tt.opts...)...)
			id, err := v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatal(err)
			}
			if id.Username != "alice" || id.KeyID == "" {
				t.Fatalf("identity %+v", id)
			}
			if _, err := v.Verify(context.Background(), tt.token); !errors.Is(err, asymjwt.ErrReplay) {
				t.Fatalf("second use: err = %v, want ErrReplay", err)
			}
		})
	}
}

// TestNonceRecordedLast: a token refused by a later check can still be
// used where it is valid, so refusals never consume nonces.
func TestNonceRecordedLast(t *testing.T) {
	w := newWorld(t)
	replay := asymjwt.NewMemoryReplayStore(asymjwt.WithClock(fixedClock(now)))
	token := forge(t, jwt.SigningMethodES256, w.alice.key, hdr("ES256", w.alice.kid), claims("alice", now, `,"aud":"orders"`))
	wrong := newTestVerifier(t, w.keys, asymjwt.WithClock(fixedClock(now)), asymjwt.WithReplayStore(replay), asymjwt.WithAudience("billing"))
	right := newTestVerifier(t, w.keys, asymjwt.WithClock(fixedClock(now)), asymjwt.WithReplayStore(replay), asymjwt.WithAudience("orders"))
	if _, err := wrong.Verify(context.Background(), token); !errors.Is(err, asymjwt.ErrAudience) {
		t.Fatal(err)
	}
	if _, err := right.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
}

// TestReplayKey: the replay key is (username, time, nonce) — a second token
// reusing them is a replay even with a new signature — with aud folded in.
func TestReplayKey(t *testing.T) {
	w := newWorld(t)
	v := newTestVerifier(t, w.keys, asymjwt.WithClock(fixedClock(now)), asymjwt.WithAudience("a", "b"))
	mk := func(key party, alg jwt.SigningMethod, extra string) string {
		return forge(t, alg, key.key, hdr(alg.Alg(), key.kid), fmt.Sprintf(`{"username":"alice","time":%d,"nonce":"same"%s}`, now, extra))
	}
	steps := []struct {
		name  string
		token string
		want  error
	}{
		{"first", mk(w.aliceEd, jwt.SigningMethodEdDSA, ""), nil},
		{"same tuple, other key", mk(w.alice, jwt.SigningMethodES256, ""), asymjwt.ErrReplay},
		{"same tuple, aud a", mk(w.alice, jwt.SigningMethodES256, `,"aud":"a"`), nil},
		{"same tuple, aud b", mk(w.alice, jwt.SigningMethodES256, `,"aud":"b"`), nil},
		{"same tuple, aud a again", mk(w.aliceEd, jwt.SigningMethodEdDSA, `,"aud":"a"`), asymjwt.ErrReplay},
	}
	for _, st := range steps {
		if _, err := v.Verify(context.Background(), st.token); !errors.Is(err, st.want) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.want)
		}
	}
}

// TestReplayAcrossTolerance: a used token stays refused for its whole
// window, then the time check refuses it.
func TestReplayAcrossTolerance(t *testing.T) {
	w := newWorld(t)
	clock := now
	v := newTestVerifier(t, w.keys, asymjwt.WithClock(func() time.Time { return time.Unix(int64(clock), 0) }))
	token := forge(t, jwt.SigningMethodES256, w.alice.key, hdr("ES256", w.alice.kid), claims("alice", now, ""))
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{now + 1, now + 20} {
		clock = at
		if _, err := v.Verify(context.Background(), token); !errors.Is(err, asymjwt.ErrReplay) {
			t.Fatalf("at +%d: err = %v, want ErrReplay", at-now, err)
		}
	}
	clock = now + 21
	if _, err := v.Verify(context.Background(), token); !errors.Is(err, asymjwt.ErrStale) {
		t.Fatalf("after the window: err = %v, want ErrStale", err)
	}
}

func TestConcurrentSubmissionsOneSuccess(t *testing.T) {
	w := newWorld(t)
	v := newTestVerifier(t, w.keys)
	s, err := asymjwt.NewSigner("alice", w.aliceEd.key)
	if err != nil {
		t.Fatal(err)
	}
	token, _ := s.Token()
	const n = 64
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		successes atomic.Int32
		replays   atomic.Int32
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := v.Verify(context.Background(), token)
			switch {
			case err == nil:
				successes.Add(1)
			case errors.Is(err, asymjwt.ErrReplay):
				replays.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if successes.Load() != 1 || replays.Load() != n-1 {
		t.Fatalf("%d successes, %d replays; want 1 and %d", successes.Load(), replays.Load(), n-1)
	}
}

type failingReplayStore struct{}

func (failingReplayStore) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("connection refused")
}

type failingKeyStore struct{}

func (failingKeyStore) Keys(context.Context, string, string) ([]crypto.PublicKey, error) {
	return nil, errors.New("database down")
}

func TestStoreFailuresFailClosed(t *testing.T) {
	w := newWorld(t)
	full := asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(1))
	fill := newTestVerifier(t, w.keys, asymjwt.WithReplayStore(full))
	s, _ := asymjwt.NewSigner("alice", w.aliceEd.key)
	// Fill the single shard the next token lands in: claim until refused.
	var filled bool
	for range 2000 {
		tok, _ := s.Token()
		if _, err := fill.Verify(context.Background(), tok); errors.Is(err, asymjwt.ErrReplayStoreFull) {
			filled = true
			break
		}
	}
	if !filled {
		t.Fatal("a store capped at 1 entry per shard never filled")
	}
	tests := []struct {
		name string
		keys asymjwt.KeyStore
		opts []asymjwt.VerifierOption
	}{
		{"replay store error", w.keys, []asymjwt.VerifierOption{asymjwt.WithReplayStore(failingReplayStore{})}},
		{"key store error", failingKeyStore{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, tt.keys, tt.opts...)
			tok, _ := s.Token()
			_, err := v.Verify(context.Background(), tok)
			if !errors.Is(err, asymjwt.ErrStoreUnavailable) {
				t.Fatalf("err = %v, want ErrStoreUnavailable", err)
			}
			if asymjwt.StatusCode(err) != http.StatusServiceUnavailable {
				t.Fatalf("status %d", asymjwt.StatusCode(err))
			}
		})
	}
}

func TestRequestBinding(t *testing.T) {
	w := newWorld(t)
	signer, _ := asymjwt.NewSigner("alice", w.aliceEd.key, asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())
	v := newTestVerifier(t, w.keys, asymjwt.RequireRequestBinding(), asymjwt.RequireBodyHash(), asymjwt.WithMaxBodySize(64))
	mk := func(method, target, body string) *http.Request {
		return httptest.NewRequest(method, target, strings.NewReader(body))
	}
	tests := []struct {
		name         string
		signed, sent *http.Request
		want         error
	}{
		{"same request", mk("POST", "/orders?id=1&x=2", "{}"), mk("POST", "/orders?x=2&id=1", "{}"), nil},
		{"empty body", mk("GET", "/orders", ""), mk("GET", "/orders", ""), nil},
		{"other path", mk("POST", "/orders", "{}"), mk("POST", "/admin", "{}"), asymjwt.ErrRequestMismatch},
		{"other method", mk("POST", "/orders", "{}"), mk("PUT", "/orders", "{}"), asymjwt.ErrRequestMismatch},
		{"other query", mk("GET", "/orders?id=1", ""), mk("GET", "/orders?id=2", ""), asymjwt.ErrRequestMismatch},
		{"other body", mk("POST", "/orders", `{"n":1}`), mk("POST", "/orders", `{"n":2}`), asymjwt.ErrRequestMismatch},
		{"body over limit", mk("POST", "/orders", strings.Repeat("x", 65)), mk("POST", "/orders", strings.Repeat("x", 65)), asymjwt.ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := signer.SignRequest(tt.signed); err != nil {
				t.Fatal(err)
			}
			tt.sent.Header.Set("Authorization", tt.signed.Header.Get("Authorization"))
			id, err := v.VerifyRequest(tt.sent)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && (!id.RequestBound || !id.BodyBound) {
				t.Fatalf("identity not marked bound: %+v", id)
			}
		})
	}
}

func TestTokenFromHeader(t *testing.T) {
	w := newWorld(t)
	v := newTestVerifier(t, w.keys, asymjwt.WithScheme("JWT"))
	tests := []struct {
		name   string
		values []string
		want   error
		token  string
	}{
		{"none", nil, asymjwt.ErrNoCredentials, ""},
		{"blank", []string{"  "}, asymjwt.ErrNoCredentials, ""},
		{"two values", []string{"JWT a.b.c", "JWT d.e.f"}, asymjwt.ErrMultipleCredentials, ""},
		{"bearer", []string{"Bearer a.b.c"}, asymjwt.ErrScheme, ""},
		{"scheme only", []string{"JWT"}, asymjwt.ErrScheme, ""},
		{"scheme and space", []string{"JWT "}, asymjwt.ErrMalformed, ""},
		{"scheme glued", []string{"JWTa.b.c"}, asymjwt.ErrScheme, ""},
		{"huge", []string{"JWT " + strings.Repeat("a", 20000)}, asymjwt.ErrTokenTooLarge, ""},
		{"lowercase scheme", []string{"jwt a.b.c"}, nil, "a.b.c"},
		{"extra spaces", []string{"JWT   a.b.c "}, nil, "a.b.c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := v.TokenFromHeader(tt.values)
			if !errors.Is(err, tt.want) || token != tt.token {
				t.Fatalf("got %q, %v; want %q, %v", token, err, tt.token, tt.want)
			}
		})
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	tests := []struct {
		name string
		keys asymjwt.KeyStore
		opts []asymjwt.VerifierOption
	}{
		{"nil key store", nil, nil},
		{"zero tolerance", keys, []asymjwt.VerifierOption{asymjwt.WithTolerance(0)}},
		{"two-word scheme", keys, []asymjwt.VerifierOption{asymjwt.WithScheme("JWT X")}},
		{"require audience without one", keys, []asymjwt.VerifierOption{asymjwt.RequireAudience()}},
		{"quote in realm", keys, []asymjwt.VerifierOption{asymjwt.WithRealm(`a"b`)}},
		{"zero token size", keys, []asymjwt.VerifierOption{asymjwt.WithMaxTokenSize(0)}},
		{"tolerance over an hour", keys, []asymjwt.VerifierOption{asymjwt.WithTolerance(100 * 365 * 24 * time.Hour)}},
		{"negative clock skew", keys, []asymjwt.VerifierOption{asymjwt.WithMaxClockSkew(-time.Second)}},
		{"clock skew over an hour", keys, []asymjwt.VerifierOption{asymjwt.WithMaxClockSkew(time.Hour + time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := asymjwt.NewVerifier(tt.keys, tt.opts...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestSlowBodyCannotOutliveTheWindow: a client that sends its body slowly
// must not get its token checked after the window closed, when the replay
// entry would already have expired.
func TestSlowBodyCannotOutliveTheWindow(t *testing.T) {
	w := newWorld(t)
	clock := time.Unix(now, 0)
	replay := asymjwt.NewMemoryReplayStore(asymjwt.WithClock(func() time.Time { return clock }))
	v := newTestVerifier(t, w.keys, asymjwt.WithClock(func() time.Time { return clock }),
		asymjwt.WithReplayStore(replay), asymjwt.RequireBodyHash())
	body := []byte("payload")
	token := forge(t, jwt.SigningMethodES256, w.alice.key, hdr("ES256", w.alice.kid),
		claims("alice", now, `,"bh":"`+asymjwt.BodyHash(body)+`"`))
	slow := &asymjwt.Request{Method: "POST", Path: "/", Body: func(int64) ([]byte, error) {
		clock = clock.Add(25 * time.Second) // the body trickles in
		return body, nil
	}}
	for i := range 3 {
		clock = time.Unix(now, 0)
		if _, err := v.VerifyToken(context.Background(), token, slow); !errors.Is(err, asymjwt.ErrStale) {
			t.Fatalf("attempt %d: err = %v, want ErrStale", i, err)
		}
	}
	clock = time.Unix(now, 0)
	fast := &asymjwt.Request{Method: "POST", Path: "/", Body: func(int64) ([]byte, error) { return body, nil }}
	if _, err := v.VerifyToken(context.Background(), token, fast); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyToken(context.Background(), token, fast); !errors.Is(err, asymjwt.ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
}

// TestUnlimitedBodySizeStillBinds: the largest limit must not overflow
// into reading nothing.
func TestUnlimitedBodySizeStillBinds(t *testing.T) {
	w := newWorld(t)
	v := newTestVerifier(t, w.keys, asymjwt.RequireBodyHash(), asymjwt.WithMaxBodySize(math.MaxInt64))
	s, _ := asymjwt.NewSigner("alice", w.aliceEd.key, asymjwt.WithBodyHash())
	signed := httptest.NewRequest("POST", "/", strings.NewReader(""))
	s.SignRequest(signed)
	sent := httptest.NewRequest("POST", "/", strings.NewReader(`{"evil":true}`))
	sent.Header.Set("Authorization", signed.Header.Get("Authorization"))
	if _, err := v.VerifyRequest(sent); !errors.Is(err, asymjwt.ErrRequestMismatch) {
		t.Fatalf("err = %v, want ErrRequestMismatch", err)
	}
}

// TestDefaultReplayStoreIsShared: two Verifiers of one process without a
// store of their own (say, HTTP and gRPC) share the replay store.
func TestDefaultReplayStoreIsShared(t *testing.T) {
	w := newWorld(t)
	httpSide := newTestVerifier(t, w.keys)
	grpcSide := newTestVerifier(t, w.keys)
	s, _ := asymjwt.NewSigner("alice", w.aliceEd.key)
	token, _ := s.Token()
	if _, err := httpSide.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	if _, err := grpcSide.Verify(context.Background(), token); !errors.Is(err, asymjwt.ErrReplay) {
		t.Fatalf("err = %v, want ErrReplay", err)
	}
}

// TestErrorMessages: the detail logged for a stale token says how old it
// is, in words, with the tolerance; a scheme error says what came and
// what was expected, never quoting the token.
func TestErrorMessages(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	token := edParty(t, keys)
	clock := func() time.Time { return time.Unix(now, 0) }
	v := newTestVerifier(t, keys, asymjwt.WithClock(clock))
	tok := token(now)
	stale := []struct {
		name, token, want string
	}{
		{"25 s old", token(now - 25), "token issued 25s ago, outside the ±20s tolerance"},
		{"25 s ahead", token(now + 25), "token issued 25s in the future, outside the ±20s tolerance"},
		{"20.4 s old", token(now - 20), "token issued 20.4s ago, outside the ±20s tolerance"},
	}
	late := newTestVerifier(t, keys, asymjwt.WithClock(func() time.Time { return time.Unix(now, 400*1e6) }))
	for _, tt := range stale {
		t.Run(tt.name, func(t *testing.T) {
			v := v
			if tt.name == "20.4 s old" {
				v = late
			}
			_, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, asymjwt.ErrStale) || !strings.HasSuffix(err.Error(), tt.want) {
				t.Fatalf("err = %v; want ErrStale ending %q", err, tt.want)
			}
		})
	}
	scheme := []struct {
		name, value, want string
	}{
		{"other scheme", "Bearer " + tok, `got scheme "Bearer", expected "JWT <token>"`},
		{"scheme word missing", tok, `no scheme word before the credential; expected "JWT <token>"`},
		{"token glued to the scheme", "JWT" + tok, `no scheme word before the credential; expected "JWT <token>"`},
		{"token first", tok + " JWT", `no scheme word before the credential; expected "JWT <token>"`},
		{"scheme alone", "jwt", `scheme "JWT" with no token after it; expected "JWT <token>"`},
		{"long word truncated", strings.Repeat("X", 64) + " " + tok, `got scheme "` + strings.Repeat("X", 20) + `"..., expected "JWT <token>"`},
		{"control bytes replaced", "Bea\x01rer\x7f " + tok, `got scheme "Bea?rer?", expected "JWT <token>"`},
	}
	for _, tt := range scheme {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.TokenFromHeader([]string{tt.value})
			if !errors.Is(err, asymjwt.ErrScheme) || !strings.HasSuffix(err.Error(), tt.want) {
				t.Fatalf("err = %v; want ErrScheme ending %q", err, tt.want)
			}
			if strings.Contains(err.Error(), tok[:20]) {
				t.Fatalf("err = %v quotes the token", err)
			}
		})
	}
}
