package bench

import (
	"crypto"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// The request every case authenticates, and the claims every token carries.
const (
	Method   = "GET"
	Path     = "/v1/items"
	RawQuery = "page=2"
	// Username is the one registered client (asymjwt's username claim,
	// the peers' sub).
	Username = "client-a"
	// Audience is the service's name: asymjwt's aud, the peers' aud.
	Audience = "bench-service"
	// Issuer is the peers' iss (auth0's validator requires one).
	Issuer = "bench-client"
	// OtherAudience names a service the tokens of the audience test are for.
	OtherAudience = "other-service"
	// OtherPath is the path the tokens of the request-binding test are for.
	OtherPath = "/v1/admin"
)

// Algorithms are the JWS algorithms compared: RS256 for every library,
// ES256 and EdDSA where a peer supports them.
var Algorithms = []string{asymjwt.RS256, asymjwt.ES256, asymjwt.EdDSA}

// TokenTime is the time claim of every token made here (the peers' iat).
// Fresh tokens are signed ahead of a benchmark, and an RSA pool takes
// seconds to sign, so they all carry this time and asymjwt verifiers run
// on Clock, which starts at TokenTime.
var TokenTime = time.Now().Truncate(time.Second)

// Clock returns a clock for a verifier: TokenTime when called, then
// advancing in real time (it reads time.Now like the default clock, so it
// costs the same). Make one per verifier, right before use: a verifier
// accepts tokens for the tolerance (20 s) after that.
func Clock() func() time.Time {
	start := time.Now()
	return func() time.Time { return TokenTime.Add(time.Since(start)) }
}

// Key is the key pair of one algorithm, shared by every library.
type Key struct {
	Alg     string
	Private crypto.Signer
	Public  crypto.PublicKey
	// KID is the asymjwt fingerprint, also the kid header of peer tokens.
	KID string
}

var kinds = map[string]string{
	asymjwt.RS256: asymjwt.KindRSA,
	asymjwt.ES256: asymjwt.KindP256,
	asymjwt.EdDSA: asymjwt.KindEd25519,
}

type keyPair struct {
	client, stranger Key
}

var (
	keysMu sync.Mutex
	keys   = map[string]*keyPair{}
)

// ClientKey returns the registered client's key for alg, made on first use.
func ClientKey(alg string) (Key, error) {
	p, err := pairFor(alg)
	if err != nil {
		return Key{}, err
	}
	return p.client, nil
}

// StrangerKey returns a second key for alg that is registered nowhere:
// its tokens must be refused by everything but the baseline.
func StrangerKey(alg string) (Key, error) {
	p, err := pairFor(alg)
	if err != nil {
		return Key{}, err
	}
	return p.stranger, nil
}

func pairFor(alg string) (*keyPair, error) {
	keysMu.Lock()
	defer keysMu.Unlock()
	if p, ok := keys[alg]; ok {
		return p, nil
	}
	client, err := newKey(alg)
	if err != nil {
		return nil, err
	}
	stranger, err := newKey(alg)
	if err != nil {
		return nil, err
	}
	p := &keyPair{client, stranger}
	keys[alg] = p
	return p, nil
}

func newKey(alg string) (Key, error) {
	kind, ok := kinds[alg]
	if !ok {
		return Key{}, fmt.Errorf("bench: no key kind for %q", alg)
	}
	priv, err := asymjwt.GenerateKey(kind)
	if err != nil {
		return Key{}, err
	}
	kid, err := asymjwt.Fingerprint(priv.Public())
	if err != nil {
		return Key{}, err
	}
	return Key{Alg: alg, Private: priv, Public: priv.Public(), KID: kid}, nil
}

// PeerClaims are the claims of the token the peers verify: asymjwt's
// username, time and nonce, plus the registered claims the peers look at
// (gin-jwt requires exp; auth0 requires iss and aud).
func PeerClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":      Issuer,
		"sub":      Username,
		"aud":      Audience,
		"iat":      TokenTime.Unix(),
		"exp":      TokenTime.Add(24 * time.Hour).Unix(),
		"username": Username,
		"time":     TokenTime.Unix(),
		"nonce":    "bench-nonce-0123456789",
	}
}

// PeerToken signs claims with key as golang-jwt does, with the kid header.
func PeerToken(key Key, claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.GetSigningMethod(key.Alg), claims)
	t.Header["kid"] = key.KID
	return t.SignedString(key.Private)
}

// SignerFor returns an asymjwt signer for Username with key, stamping
// TokenTime and naming Audience; extra options follow.
func SignerFor(key Key, opts ...asymjwt.SignerOption) (*asymjwt.Signer, error) {
	base := []asymjwt.SignerOption{
		asymjwt.WithAlgorithm(key.Alg),
		asymjwt.WithAudience(Audience),
		asymjwt.WithClock(func() time.Time { return TokenTime }),
	}
	return asymjwt.NewSigner(Username, key.Private, append(base, opts...)...)
}

// A pool holds fresh asymjwt tokens, each good for one use per verifier.
// It only grows; benchmarks take a prefix of it for each run with a new
// verifier, so a token is never replayed to the verifier that saw it.
type pool struct {
	mu     sync.Mutex
	sign   func() (string, error)
	tokens []string
}

var (
	poolsMu sync.Mutex
	pools   = map[string]*pool{}
)

// FreshTokens returns n distinct asymjwt tokens for alg, signed ahead of
// time on every CPU. bound tokens carry qsh and bh for the benchmark
// request (GET /v1/items?page=2, empty body). The result is shared: do
// not present a token twice to one verifier.
func FreshTokens(alg string, bound bool, n int) ([]string, error) {
	name := fmt.Sprintf("%s/bound=%t", alg, bound)
	poolsMu.Lock()
	p, ok := pools[name]
	if !ok {
		key, err := ClientKey(alg)
		if err != nil {
			poolsMu.Unlock()
			return nil, err
		}
		var opts []asymjwt.SignerOption
		if bound {
			opts = append(opts, asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())
		}
		s, err := SignerFor(key, opts...)
		if err != nil {
			poolsMu.Unlock()
			return nil, err
		}
		p = &pool{sign: s.Token}
		if bound {
			p.sign = func() (string, error) { return s.TokenFor(Method, Path, RawQuery, nil) }
		}
		pools[name] = p
	}
	poolsMu.Unlock()
	return p.take(n)
}

// NewPool returns a token source that grows like FreshTokens' pools,
// calling sign for each token: for benchmarks with signers of their own.
func NewPool(sign func() (string, error)) func(n int) ([]string, error) {
	p := &pool{sign: sign}
	return p.take
}

func (p *pool) take(n int) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if missing := n - len(p.tokens); missing > 0 {
		more, err := parallel(missing, p.sign)
		if err != nil {
			return nil, err
		}
		p.tokens = append(p.tokens, more...)
	}
	return p.tokens[:n:n], nil
}

// parallel calls sign n times on every CPU and returns the results.
func parallel(n int, sign func() (string, error)) ([]string, error) {
	out := make([]string, n)
	workers := min(runtime.GOMAXPROCS(0), n)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				t, err := sign()
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = t
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
