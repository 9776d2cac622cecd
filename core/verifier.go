package asymjwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

type verifierConfig struct {
	customClock     bool
	tolerance       time.Duration
	maxClockSkew    time.Duration
	skewSet         bool
	audiences       []string
	replay          ReplayStore
	clock           func() time.Time
	scheme          string
	maxTokenSize    int
	maxBodySize     int64
	requireAudience bool
	requireQSH      bool
	requireBH       bool
	pathPrefix      string
	observer        func(context.Context, Outcome)
	logger          *slog.Logger
	realm           string
	audienceHint    string
}

// KeyUseRecorder is implemented by key stores that track when each key
// last authenticated a request (the Python library's last_used_on). The
// verifier calls KeyUsed after every success, on the request path: it must
// be cheap (record in memory, flush elsewhere) and must not fail.
type KeyUseRecorder interface {
	KeyUsed(username, kid string, at time.Time)
}

// maxKeysTried bounds the signature checks for a token without kid.
const maxKeysTried = 8

// Verifier checks tokens (docs/PROTOCOL.md §1.5). It is safe for concurrent use;
// build one per service and share it.
type Verifier struct {
	keys      KeyStore
	cfg       verifierConfig
	keyInfo   keyInfoCache
	challenge string
	// lifetime: how long after a token's claimed time this verifier could
	// accept it, by its own clock or one up to maxClockSkew behind.
	lifetime time.Duration
	// retaining is cfg.replay when it decides expiries itself.
	retaining RetainingReplayStore
}

// Request is what a token may be bound to: the request it arrived with.
type Request struct {
	// Method is the HTTP method (gRPC: "POST").
	Method string
	// Path is the escaped path as sent (URL.EscapedPath; gRPC: the full
	// method name "/pkg.Service/Method").
	Path string
	// RawQuery is the query without "?".
	RawQuery string
	// Body returns the whole body, or ErrBodyTooLarge when it exceeds
	// limit. It is called only for a bh claim, after the signature and
	// time checks passed. Nil means the request has no body.
	Body func(limit int64) ([]byte, error)
}

// NewVerifier returns a Verifier that finds keys in keys. It fails with
// an error wrapping ErrReplayRetention when its replay store implements
// RetainingReplayStore and cannot keep entries for this verifier's
// ReplayLifetime.
func NewVerifier(keys KeyStore, opts ...VerifierOption) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("asymjwt: NewVerifier needs a KeyStore")
	}
	cfg := verifierConfig{
		tolerance:    DefaultTolerance,
		clock:        time.Now,
		scheme:       DefaultScheme,
		maxTokenSize: DefaultMaxTokenSize,
		maxBodySize:  DefaultMaxBodySize,
		realm:        "asymjwt",
		audienceHint: "WithAudience",
	}
	for _, o := range opts {
		o.applyVerifier(&cfg)
	}
	if !cfg.skewSet {
		cfg.maxClockSkew = cfg.tolerance
	}
	switch {
	case cfg.tolerance <= 0 || cfg.tolerance > MaxTolerance:
		return nil, fmt.Errorf("asymjwt: tolerance must be in (0, %v]", MaxTolerance)
	case cfg.maxClockSkew < 0 || cfg.maxClockSkew > MaxTolerance:
		return nil, fmt.Errorf("asymjwt: maximum clock skew must be in [0, %v]", MaxTolerance)
	case cfg.scheme == "" || strings.ContainsAny(cfg.scheme, " \t"):
		return nil, errors.New("asymjwt: scheme must be one word")
	case cfg.maxTokenSize <= 0 || cfg.maxBodySize < 0:
		return nil, errors.New("asymjwt: size limits must be positive")
	case cfg.requireAudience && len(cfg.audiences) == 0:
		return nil, errors.New("asymjwt: RequireAudience needs WithAudience")
	case strings.ContainsAny(cfg.realm, "\"\\\r\n"):
		return nil, errors.New("asymjwt: realm must not contain quotes, backslashes or newlines")
	}
	if cfg.replay == nil {
		if cfg.customClock {
			cfg.replay = NewMemoryReplayStore(WithClock(cfg.clock))
		} else {
			// One store for the whole process, so that a token accepted by
			// one Verifier (say, HTTP) is a replay for another (gRPC).
			cfg.replay = processReplayStore()
		}
	}
	// docs/PROTOCOL.md §1.6: the entry must outlive this verifier's window as seen by
	// any verifier whose clock is up to maxClockSkew away; 1 s more covers
	// the closed window boundary and whole-second token times.
	lifetime := cfg.tolerance + cfg.maxClockSkew + time.Second
	retaining, _ := cfg.replay.(RetainingReplayStore)
	if retaining == nil && hidesRetention(cfg.replay) {
		// A wrapper (metrics, tracing) that is a plain ReplayStore would
		// record entries for this verifier's window only, and a verifier
		// with a longer one on the same store would accept the token again.
		return nil, fmt.Errorf("%w: replay store %T wraps a RetainingReplayStore without being one (docs/PROTOCOL.md §1.6): "+
			"give the wrapper Retain and ClaimIssued that pass through", ErrReplayRetention, cfg.replay)
	}
	if retaining != nil {
		if err := retaining.Retain(lifetime); err != nil {
			if !errors.Is(err, ErrReplayRetention) {
				err = fmt.Errorf("%w: %w", ErrReplayRetention, err)
			}
			return nil, err
		}
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	return &Verifier{
		keys:      keys,
		cfg:       cfg,
		challenge: fmt.Sprintf(`%s realm="%s", error="invalid_token"`, cfg.scheme, cfg.realm),
		lifetime:  lifetime,
		retaining: retaining,
	}, nil
}

// hidesRetention reports whether store, a plain ReplayStore, wraps a
// RetainingReplayStore: its Unwrap() ReplayStore chain reaches one.
func hidesRetention(store ReplayStore) bool {
	for range 16 {
		w, ok := store.(interface{ Unwrap() ReplayStore })
		if !ok {
			return false
		}
		if store = w.Unwrap(); store == nil {
			return false
		}
		if _, ok := store.(RetainingReplayStore); ok {
			return true
		}
	}
	return false
}

// ReplayLifetime is how long after a token's claimed time this verifier
// needs its replay entry kept: tolerance + maximum clock skew + 1 s
// (docs/PROTOCOL.md §1.6). A store shared with other verifiers must keep entries for
// the longest lifetime of them all.
func (v *Verifier) ReplayLifetime() time.Duration { return v.lifetime }

// Verify checks a bare token (no Authorization scheme) that is bound to no
// request: a token carrying qsh or bh is refused here, as are all tokens
// when request or body binding is required. On success the nonce has been
// recorded: the same token is refused from then on.
func (v *Verifier) Verify(ctx context.Context, token string) (*Identity, error) {
	return v.finish(ctx, token, nil, v.start())
}

// VerifyToken checks a bare token against the request it came with.
func (v *Verifier) VerifyToken(ctx context.Context, token string, req *Request) (*Identity, error) {
	return v.finish(ctx, token, req, v.start())
}

// Authenticate runs the whole check for one request: authorization holds
// every Authorization header (or metadata) value received, req the
// request for qsh and bh. It is what the middleware of every framework
// calls.
func (v *Verifier) Authenticate(ctx context.Context, authorization []string, req *Request) (*Identity, error) {
	start := v.start()
	token, err := v.TokenFromHeader(authorization)
	if err != nil {
		v.report(ctx, nil, err, nil, start)
		return nil, err
	}
	return v.finish(ctx, token, req, start)
}

// TokenFromHeader extracts the token from Authorization values
// (docs/PROTOCOL.md §1.1): exactly one value, with this verifier's scheme.
func (v *Verifier) TokenFromHeader(values []string) (string, error) {
	switch {
	case len(values) == 0 || len(values) == 1 && strings.TrimSpace(values[0]) == "":
		return "", ErrNoCredentials
	case len(values) > 1:
		return "", fmt.Errorf("%w: %d Authorization values", ErrMultipleCredentials, len(values))
	}
	value := values[0]
	// Bound the work before looking at the value.
	if len(value) > len(v.cfg.scheme)+1+v.cfg.maxTokenSize+16 {
		return "", fmt.Errorf("%w: %d bytes", ErrTokenTooLarge, len(value))
	}
	scheme, token, ok := strings.Cut(strings.TrimLeft(value, " "), " ")
	if !ok || !strings.EqualFold(scheme, v.cfg.scheme) {
		return "", v.schemeError(scheme, ok)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", fmt.Errorf("%w: empty token", ErrMalformed)
	}
	return token, nil
}

// maxSchemeShown bounds the scheme word quoted in an error.
const maxSchemeShown = 20

// schemeError says what the Authorization value started with and what was
// expected. It quotes the first word only when it looks like a scheme
// (no dot, so never a token; truncated, non-token characters replaced):
// a value of one word is a token sent without the scheme, or the scheme
// without a token.
func (v *Verifier) schemeError(first string, twoWords bool) error {
	want := v.cfg.scheme + " <token>"
	switch {
	case !twoWords && strings.EqualFold(first, v.cfg.scheme):
		return fmt.Errorf("%w: scheme %q with no token after it; expected %q", ErrScheme, v.cfg.scheme, want)
	case !twoWords || strings.Contains(first, "."):
		return fmt.Errorf("%w: no scheme word before the credential; expected %q", ErrScheme, want)
	}
	shown := []byte(first[:min(len(first), maxSchemeShown)])
	for i, c := range shown {
		if !isTokenChar(c) {
			shown[i] = '?'
		}
	}
	ellipsis := ""
	if len(first) > maxSchemeShown {
		ellipsis = "..."
	}
	return fmt.Errorf("%w: got scheme %q%s, expected %q", ErrScheme, shown, ellipsis, want)
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110
// §5.6.2), the syntax of an auth-scheme.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (v *Verifier) finish(ctx context.Context, token string, req *Request, start time.Time) (*Identity, error) {
	id, t, err := v.verify(ctx, token, req)
	v.report(ctx, id, err, t, start)
	return id, err
}

// start is when a verification began, for Outcome.Elapsed: read only
// when an observer will get it.
func (v *Verifier) start() time.Time {
	if v.cfg.observer == nil {
		return time.Time{}
	}
	return time.Now()
}

func (v *Verifier) report(ctx context.Context, id *Identity, err error, t *parsedToken, start time.Time) {
	var username, kid string
	if t != nil {
		username, kid = t.username, t.kid
	}
	if v.cfg.observer != nil {
		v.cfg.observer(ctx, Outcome{Identity: id, Err: err, Username: username, KeyID: kid, Elapsed: time.Since(start)})
	}
	l := v.cfg.logger
	switch {
	case err == nil:
		if l.Enabled(ctx, slog.LevelDebug) {
			l.LogAttrs(ctx, slog.LevelDebug, "asymjwt: authenticated",
				slog.String("username", id.Username), slog.String("kid", id.KeyID))
		}
	case errors.Is(err, ErrNoCredentials):
		if l.Enabled(ctx, slog.LevelDebug) {
			l.LogAttrs(ctx, slog.LevelDebug, "asymjwt: no credentials")
		}
	default:
		if l.Enabled(ctx, slog.LevelWarn) {
			// The claimed username is unverified: it is logged as a claim.
			l.LogAttrs(ctx, slog.LevelWarn, "asymjwt: authentication refused",
				slog.String("reason", err.Error()), slog.String("claimed_username", username))
		}
	}
}

// verify runs docs/PROTOCOL.md §1.5 steps 1-7 in order.
func (v *Verifier) verify(ctx context.Context, token string, req *Request) (*Identity, *parsedToken, error) {
	// 1. Size, before any parsing.
	if len(token) > v.cfg.maxTokenSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTokenTooLarge, len(token), v.cfg.maxTokenSize)
	}
	// 2. Parse without trusting.
	t, err := parseToken(token)
	if err != nil {
		return nil, nil, err
	}
	// 3-4. Keys, algorithm, signature.
	kid, err := v.checkSignature(ctx, t)
	if err != nil {
		return nil, t, err
	}
	// 5. Freshness.
	now := v.cfg.clock()
	issued := time.Unix(t.time, 0)
	if d := now.Sub(issued); d > v.cfg.tolerance || d < -v.cfg.tolerance {
		return nil, t, fmt.Errorf("%w: token issued %s, outside the ±%v tolerance", ErrStale, issuedAgo(d, v.cfg.tolerance), v.cfg.tolerance)
	}
	// 6. Extensions.
	if err := v.checkAudience(t); err != nil {
		return nil, t, err
	}
	requestBound, bodyBound, err := v.checkRequest(t, req)
	if err != nil {
		return nil, t, err
	}
	// Reading the body took as long as the client chose: the window must
	// still be open when the nonce is recorded, or the store would guard
	// an entry that has already expired.
	if d := v.cfg.clock().Sub(issued); d > v.cfg.tolerance {
		return nil, t, fmt.Errorf("%w: token issued %s: the ±%v tolerance ran out while the request was read",
			ErrStale, issuedAgo(d, v.cfg.tolerance), v.cfg.tolerance)
	}
	// 7. Only now, with everything else checked, record the nonce: an
	// attacker without a key can never fill the store.
	key := replayKey(t.username, t.time, t.nonce, t.aud)
	var fresh bool
	if v.retaining != nil {
		fresh, err = v.retaining.ClaimIssued(ctx, key, issued)
	} else {
		fresh, err = v.cfg.replay.Claim(ctx, key, issued.Add(v.lifetime))
	}
	if err != nil {
		if !errors.Is(err, ErrStoreUnavailable) {
			err = fmt.Errorf("%w: replay store: %w", ErrStoreUnavailable, err)
		}
		return nil, t, err
	}
	if !fresh {
		return nil, t, ErrReplay
	}
	if r, ok := v.keys.(KeyUseRecorder); ok {
		r.KeyUsed(t.username, kid, now)
	}
	return &Identity{
		Username:     t.username,
		KeyID:        kid,
		Algorithm:    t.alg,
		Time:         issued,
		Nonce:        t.nonce,
		Audience:     t.aud,
		RequestBound: requestBound,
		BodyBound:    bodyBound,
		verifier:     v,
		token:        token,
	}, t, nil
}

// issuedAgo words the age d of a token outside tolerance: "25s ago" or
// "25s in the future", to the millisecond when whole seconds would read
// as inside the tolerance.
func issuedAgo(d, tolerance time.Duration) string {
	r := d.Round(time.Second)
	if r.Abs() <= tolerance {
		r = d.Round(time.Millisecond)
	}
	if r < 0 {
		return (-r).String() + " in the future"
	}
	return r.String() + " ago"
}

// checkSignature finds the user's key and checks alg and signature. It
// returns the kid of the key that verified.
func (v *Verifier) checkSignature(ctx context.Context, t *parsedToken) (string, error) {
	keys, kids, err := keysWithIDs(ctx, v.keys, t.username, t.kid)
	switch {
	case errors.Is(err, ErrUnknownUser), errors.Is(err, ErrUnknownKey):
		return "", err
	case err != nil:
		return "", fmt.Errorf("%w: key store: %w", ErrStoreUnavailable, err)
	case len(keys) == 0 && t.kid != "":
		return "", ErrUnknownKey
	case len(keys) == 0:
		return "", ErrUnknownUser
	}
	if kids != nil && len(kids) != len(keys) {
		return "", fmt.Errorf("%w: key store returned %d kids for %d keys", ErrStoreUnavailable, len(kids), len(keys))
	}
	method, ok := signingMethods[t.alg]
	if !ok {
		return "", fmt.Errorf("%w: %q is not a supported algorithm", ErrAlgorithm, t.alg)
	}
	if t.kid != "" {
		// The store may return more than the one key: take the one whose
		// fingerprint is the kid, and never trust the kid alone.
		for i, pub := range keys {
			info, err := v.keyInfo.get(pub, kids, i)
			if err != nil || info.kid != t.kid {
				continue
			}
			if !slices.Contains(info.algs, t.alg) {
				return "", fmt.Errorf("%w: %s for key %s", ErrAlgorithm, t.alg, info.kid)
			}
			if err := method.Verify(t.signingInput, t.signature, unpin(pub)); err != nil {
				return "", fmt.Errorf("%w: %v", ErrSignature, err)
			}
			return info.kid, nil
		}
		return "", ErrUnknownKey
	}
	tried := 0
	var lastErr error = ErrAlgorithm
	for i, pub := range keys {
		if tried == maxKeysTried {
			break
		}
		info, err := v.keyInfo.get(pub, kids, i)
		if err != nil || !slices.Contains(info.algs, t.alg) {
			continue
		}
		tried++
		if err := method.Verify(t.signingInput, t.signature, unpin(pub)); err != nil {
			lastErr = fmt.Errorf("%w: %v", ErrSignature, err)
			continue
		}
		return info.kid, nil
	}
	if errors.Is(lastErr, ErrAlgorithm) {
		return "", fmt.Errorf("%w: no key of the user allows %s", ErrAlgorithm, t.alg)
	}
	return "", lastErr
}

func (v *Verifier) checkAudience(t *parsedToken) error {
	if !t.hasAud {
		if v.cfg.requireAudience {
			return fmt.Errorf("%w: aud required", ErrAudience)
		}
		return nil
	}
	for _, a := range t.aud {
		if slices.Contains(v.cfg.audiences, a) {
			return nil
		}
	}
	if len(v.cfg.audiences) == 0 {
		return fmt.Errorf("%w: token is for %q, this verifier has no audience (set one with %s)", ErrAudience, t.aud, v.cfg.audienceHint)
	}
	return fmt.Errorf("%w: token is for %q", ErrAudience, t.aud)
}

func (v *Verifier) checkRequest(t *parsedToken, req *Request) (requestBound, bodyBound bool, err error) {
	if t.hasQSH || v.cfg.requireQSH {
		if !t.hasQSH {
			return false, false, fmt.Errorf("%w: qsh required", ErrRequestMismatch)
		}
		if req == nil {
			return false, false, fmt.Errorf("%w: token is bound to a request, none given", ErrRequestMismatch)
		}
		qsh, err := QueryStringHash(req.Method, req.Path, req.RawQuery, v.cfg.pathPrefix)
		if err != nil {
			return false, false, err
		}
		if subtle.ConstantTimeCompare([]byte(qsh), []byte(t.qsh)) != 1 {
			return false, false, fmt.Errorf("%w: qsh differs for %s %s", ErrRequestMismatch, req.Method, req.Path)
		}
		requestBound = true
	}
	if t.hasBH || v.cfg.requireBH {
		if !t.hasBH {
			return false, false, fmt.Errorf("%w: bh required", ErrRequestMismatch)
		}
		if req == nil {
			return false, false, fmt.Errorf("%w: token is bound to a body, none given", ErrRequestMismatch)
		}
		var body []byte
		if req.Body != nil {
			if body, err = req.Body(v.cfg.maxBodySize); err != nil {
				if !errors.Is(err, ErrRequestMismatch) {
					err = fmt.Errorf("%w: reading body: %w", ErrRequestMismatch, err)
				}
				return false, false, err
			}
		}
		if subtle.ConstantTimeCompare([]byte(BodyHash(body)), []byte(t.bh)) != 1 {
			return false, false, fmt.Errorf("%w: bh differs", ErrRequestMismatch)
		}
		bodyBound = true
	}
	return requestBound, bodyBound, nil
}

// BodyHash returns the bh claim for body: base64url (no padding) SHA-256.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return b64.EncodeToString(sum[:])
}

// MaxBodySize is the limit this verifier reads a body to for bh.
func (v *Verifier) MaxBodySize() int64 { return v.cfg.maxBodySize }

// Challenge is the WWW-Authenticate value sent with a 401.
func (v *Verifier) Challenge() string { return v.challenge }

// StatusCode maps a verification error to its HTTP status: 503 when a
// store failed (the request may be retried), 401 for every other failure,
// 200 for nil.
func StatusCode(err error) int {
	switch {
	case err == nil:
		return 200
	case errors.Is(err, ErrStoreUnavailable):
		return 503
	}
	return 401
}

var signingMethods = map[string]jwt.SigningMethod{
	RS256: jwt.SigningMethodRS256, RS384: jwt.SigningMethodRS384, RS512: jwt.SigningMethodRS512,
	PS256: jwt.SigningMethodPS256, PS384: jwt.SigningMethodPS384, PS512: jwt.SigningMethodPS512,
	ES256: jwt.SigningMethodES256, ES384: jwt.SigningMethodES384, ES512: jwt.SigningMethodES512,
	EdDSA: jwt.SigningMethodEdDSA,
}

// keyInfo is what the verifier derives from a public key: worth caching,
// since the fingerprint costs a PEM encoding and a hash.
type keyInfo struct {
	kid  string
	algs []string
}

// keyInfoCache remembers keyInfo by key identity: the pointer for RSA
// and EC keys, the bytes for Ed25519, and, on a pointer miss, a SHA-256
// of the key's type and public numbers (keyContentID). A store handing
// out a fresh copy of a key on every lookup (one parsed from a database
// row, say) then hits by content, and adds no entry: keyed by pointer
// alone, every request, before any signature check, computed a
// fingerprint and added an entry holding its copy. Bounded: when full,
// one arbitrary entry makes room for the new one, so a working set below
// the bound always hits; entries grow with distinct keys, not requests.
type keyInfoCache struct {
	mu        sync.RWMutex
	byPtr     map[any]keyInfo
	byBytes   map[[ed25519.PublicKeySize]byte]keyInfo
	byContent map[[sha256.Size]byte]keyInfo
}

const keyInfoCacheSize = 1 << 17 // clients with keys in active use

// get returns pub's keyInfo. When the store gave the kids (kids non-nil),
// kids[i] is pub's and only the algorithms are derived: no cache needed.
func (c *keyInfoCache) get(pub crypto.PublicKey, kids []string, i int) (keyInfo, error) {
	if kids != nil {
		algs, err := algorithmsFor(pub)
		return keyInfo{kid: kids[i], algs: algs}, err
	}
	var (
		info keyInfo
		ok   bool
	)
	switch k := pub.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, *PinnedKey:
		c.mu.RLock()
		info, ok = c.byPtr[k]
		c.mu.RUnlock()
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return keyInfo{}, ErrInvalidKey
		}
		edBytes := [ed25519.PublicKeySize]byte(k)
		c.mu.RLock()
		info, ok = c.byBytes[edBytes]
		c.mu.RUnlock()
		if ok {
			return info, nil
		}
		info, err := computeKeyInfo(pub)
		if err != nil {
			return keyInfo{}, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.makeRoom()
		c.byBytes[edBytes] = info
		return info, nil
	default:
		return computeKeyInfo(pub)
	}
	if ok {
		return info, nil
	}
	id, describable := keyContentID(pub)
	if !describable {
		return computeKeyInfo(pub) // to fail
	}
	c.mu.RLock()
	info, ok = c.byContent[id]
	c.mu.RUnlock()
	if ok {
		return info, nil // a copy of a key seen before: no new entry
	}
	info, err := computeKeyInfo(pub)
	if err != nil {
		return keyInfo{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.makeRoom()
	c.byContent[id] = info
	c.byPtr[pub] = info
	return info, nil
}

// makeRoom creates the maps, or drops one entry when the cache is full;
// map iteration starts at a random place. Called with mu held.
func (c *keyInfoCache) makeRoom() {
	if c.byPtr == nil {
		c.byPtr = make(map[any]keyInfo)
		c.byBytes = make(map[[ed25519.PublicKeySize]byte]keyInfo)
		c.byContent = make(map[[sha256.Size]byte]keyInfo)
	}
	if len(c.byPtr)+len(c.byBytes)+len(c.byContent) < keyInfoCacheSize {
		return
	}
	for k := range c.byPtr {
		delete(c.byPtr, k)
		break
	}
	for k := range c.byContent {
		delete(c.byContent, k)
		return
	}
	for k := range c.byBytes {
		delete(c.byBytes, k)
		return
	}
}

// keyContentID hashes what decides a key's keyInfo: its type, public
// numbers and pinned algorithm. ok is false for keys it cannot describe
// (unsupported types, missing numbers, sizes the protocol refuses),
// whose keyInfo is then computed, to fail, every time.
func keyContentID(pub crypto.PublicKey) (id [sha256.Size]byte, ok bool) {
	var stack [16 + 2*MaxRSABits/8]byte
	b := stack[:0]
	switch k := pub.(type) {
	case *PinnedKey:
		inner, ok := keyContentID(k.PublicKey)
		if !ok || len(k.Algorithm) > 16 {
			return id, false
		}
		b = append(append(append(b, 'P'), inner[:]...), k.Algorithm...)
	case *rsa.PublicKey:
		if k.N == nil || k.N.Sign() <= 0 || k.N.BitLen() > MaxRSABits {
			return id, false
		}
		b = binary.BigEndian.AppendUint64(append(b, 'R'), uint64(k.E))
		n, size := len(b), (k.N.BitLen()+7)/8
		k.N.FillBytes(stack[n : n+size])
		b = stack[:n+size]
	case *ecdsa.PublicKey:
		//lint:ignore SA1019 the numbers are what identify the key; Bytes would refuse invalid points, which must fail below.
		if k.X == nil || k.Y == nil || k.X.Sign() < 0 || k.Y.Sign() < 0 {
			return id, false
		}
		// The curve by identity, as algorithmsFor checks it: a look-alike
		// named "P-256" must not share the real curve's entry.
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return id, false
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		//lint:ignore SA1019 as above.
		if k.X.BitLen() > 8*size || k.Y.BitLen() > 8*size {
			return id, false
		}
		b = append(b, 'E')
		b = append(b, k.Curve.Params().Name...)
		n := len(b)
		//lint:ignore SA1019 as above.
		k.X.FillBytes(stack[n : n+size])
		//lint:ignore SA1019 as above.
		k.Y.FillBytes(stack[n+size : n+2*size])
		b = stack[:n+2*size]
	case ed25519.PublicKey:
		b = append(append(b, 'D'), k...)
	default:
		return id, false
	}
	return sha256.Sum256(b), true
}

func computeKeyInfo(pub crypto.PublicKey) (keyInfo, error) {
	algs, err := algorithmsFor(pub)
	if err != nil {
		return keyInfo{}, err
	}
	kid, err := Fingerprint(pub)
	if err != nil {
		return keyInfo{}, err
	}
	return keyInfo{kid: kid, algs: algs}, nil
}
