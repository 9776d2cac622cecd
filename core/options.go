package asymjwt

import (
	"context"
	"log/slog"
	"time"
)

// VerifierOption configures NewVerifier.
type VerifierOption interface{ applyVerifier(*verifierConfig) }

// SignerOption configures NewSigner.
type SignerOption interface{ applySigner(*signerConfig) }

// DefaultTolerance is the protocol's ±window around the server's clock.
const DefaultTolerance = 20 * time.Second

// MaxTolerance bounds WithTolerance and WithMaxClockSkew: replay entries
// live as long as the window plus the skew, so neither can be made
// "infinite".
const MaxTolerance = time.Hour

// DefaultScheme is the Authorization scheme word.
const DefaultScheme = "JWT"

// DefaultMaxBodySize bounds the body read to check a bh claim.
const DefaultMaxBodySize = 1 << 20

type verifierFunc func(*verifierConfig)

func (f verifierFunc) applyVerifier(c *verifierConfig) { f(c) }

type signerFunc func(*signerConfig)

func (f signerFunc) applySigner(c *signerConfig) { f(c) }

// sharedOption applies to both sides (and, for the clock, the memory
// replay store).
type sharedOption struct {
	verifier func(*verifierConfig)
	signer   func(*signerConfig)
	replay   func(*memoryReplayConfig)
}

func (o sharedOption) applyVerifier(c *verifierConfig) { o.verifier(c) }
func (o sharedOption) applySigner(c *signerConfig)     { o.signer(c) }
func (o sharedOption) applyMemoryReplay(c *memoryReplayConfig) {
	if o.replay != nil {
		o.replay(c)
	}
}

// ClockOption is accepted by NewVerifier, NewSigner and NewMemoryReplayStore.
type ClockOption interface {
	VerifierOption
	SignerOption
	MemoryReplayOption
}

// SharedOption is accepted by both NewVerifier and NewSigner.
type SharedOption interface {
	VerifierOption
	SignerOption
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) ClockOption {
	return sharedOption{
		verifier: func(c *verifierConfig) { c.clock, c.customClock = now, true },
		signer:   func(c *signerConfig) { c.clock = now },
		replay:   func(c *memoryReplayConfig) { c.clock = now },
	}
}

// WithScheme sets the Authorization scheme word (default "JWT"; matched
// case-insensitively by the verifier).
func WithScheme(scheme string) SharedOption {
	return sharedOption{
		verifier: func(c *verifierConfig) { c.scheme = scheme },
		signer:   func(c *signerConfig) { c.scheme = scheme },
	}
}

// WithAudience names the service. On a signer it sets the aud claim of
// every token (a string for one audience, an array for several). On a
// verifier it is the service's own name(s): a token carrying aud must name
// one of them. Use it: without aud, a token captured by one service can be
// replayed to another that trusts the same client key, since they do not
// share a replay store.
//
// Except towards a service that runs the Python library
// asymmetric_jwt_auth: it decodes with PyJWT without an audience, and
// PyJWT then refuses every token that carries aud. A signer calling such a
// service must not set an audience (docs/PROTOCOL.md §3).
func WithAudience(aud ...string) SharedOption {
	return sharedOption{
		verifier: func(c *verifierConfig) { c.audiences = append([]string(nil), aud...) },
		signer:   func(c *signerConfig) { c.audiences = append([]string(nil), aud...) },
	}
}

// WithPathPrefix sets the mount point stripped from the path before the
// request is canonicalized for qsh (docs/PROTOCOL.md §1.4): the client signs the path
// relative to the service's base URL and the server checks the path below
// its mount point, so requests survive a proxy that adds or removes it.
func WithPathPrefix(prefix string) SharedOption {
	return sharedOption{
		verifier: func(c *verifierConfig) { c.pathPrefix = prefix },
		signer:   func(c *signerConfig) { c.pathPrefix = prefix },
	}
}

// WithTolerance sets the ±window for the time claim (default 20 s, at
// most MaxTolerance). Replay entries live until the token's time +
// tolerance + maximum clock skew + 1 s (see WithMaxClockSkew), so a
// larger tolerance costs replay-store memory.
func WithTolerance(d time.Duration) VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.tolerance = d })
}

// WithMaxClockSkew sets the largest offset between the clock of this
// verifier and the clock of any other verifier sharing its replay store
// (several instances on one Redis) for which the replay guarantee holds:
// a token is accepted at most once by all of them. Default: the tolerance,
// which is at least as safe as the Python library (it keeps each nonce for
// twice its tolerance after use); at most MaxTolerance.
//
// The verifier's replay lifetime is tolerance + skew + 1 s after the
// token's claimed time: a verifier whose clock runs behind by skew can
// accept the token until then, by the recording verifier's clock. The
// 1 s covers the closed window boundary and whole-second token times.
// Entries live that long, so the skew costs replay-store memory like the
// tolerance does. 0 is right only when every verifier sharing the store
// reads one clock that never steps (one process, say).
func WithMaxClockSkew(d time.Duration) VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.maxClockSkew, c.skewSet = d, true })
}

// WithReplayStore sets where used tokens are recorded. The default is one
// MemoryReplayStore shared by every Verifier of the process that sets no
// store of its own (a Verifier WithClock gets a private one). Services
// running as several instances need a store they share (the redis
// module), or a token accepted by one instance is fresh to the others.
//
// A store that implements RetainingReplayStore (the memory and Redis
// stores do) is asked at construction to keep entries for this
// verifier's replay lifetime, and NewVerifier fails with
// ErrReplayRetention if it cannot. Any other ReplayStore gets each entry
// with an expiry of the token's time + this verifier's lifetime: share
// such a store only between verifiers with the same tolerance and skew.
// A plain store that wraps a RetainingReplayStore (its Unwrap()
// ReplayStore leads to one) is refused with ErrReplayRetention: the
// wrapper must pass Retain and ClaimIssued through.
func WithReplayStore(s ReplayStore) VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.replay = s })
}

// WithMaxTokenSize sets the largest token accepted (default 8 KiB);
// larger ones are refused before parsing.
func WithMaxTokenSize(n int) VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.maxTokenSize = n })
}

// WithMaxBodySize bounds the body read to check a bh claim (default
// 1 MiB); a larger body is refused.
func WithMaxBodySize(n int64) VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.maxBodySize = n })
}

// RequireAudience refuses tokens without an aud claim.
func RequireAudience() VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.requireAudience = true })
}

// RequireRequestBinding refuses tokens without a qsh claim, so a token
// authorizes only the method, path and query it was made for.
func RequireRequestBinding() VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.requireQSH = true })
}

// RequireBodyHash refuses tokens without a bh claim, so a token
// authorizes only the body it was made for.
func RequireBodyHash() VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.requireBH = true })
}

// Outcome is one verification's result, as observers see it.
type Outcome struct {
	// Identity is the authenticated caller; nil on failure.
	Identity *Identity
	// Err is nil on success, else the reason (match with errors.Is).
	Err error
	// Username and KeyID are what the token claimed, verified only when
	// Err is nil; empty when parsing did not get that far.
	Username, KeyID string
	// Elapsed is how long the verification took, from the call of
	// Authenticate, Verify or VerifyToken to the observer's (monotonic
	// clock, not WithClock's).
	Elapsed time.Duration
}

// WithObserver calls fn with every verification outcome, success or
// failure, for metrics and audit. fn runs on the request path: keep it fast.
func WithObserver(fn func(context.Context, Outcome)) VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.observer = fn })
}

// WithLogger sets where reasons are logged (default slog.Default()):
// refusals at Warn (missing credentials at Debug), successes at Debug.
// Pass a logger with a discarding handler to silence it.
func WithLogger(l *slog.Logger) VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.logger = l })
}

// WithAudienceHint names, in the reason logged when a token carries aud
// and this verifier has no audience, the setting that gives it one
// (default "WithAudience"). Tools built on the package name their own: the
// asymjwt command passes "--aud".
func WithAudienceHint(hint string) VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.audienceHint = hint })
}

// WithRealm sets the realm of the WWW-Authenticate challenge (default "asymjwt").
func WithRealm(realm string) VerifierOption {
	return verifierFunc(func(c *verifierConfig) { c.realm = realm })
}

// WithAlgorithm picks the signing algorithm among those the key allows
// (default: RS512 for RSA, the curve's ES* for EC, EdDSA for Ed25519).
func WithAlgorithm(alg string) SignerOption {
	return signerFunc(func(c *signerConfig) { c.alg = alg })
}

// WithRequestBinding makes SignRequest and Transport add a qsh claim
// binding each token to its request's method, path and query.
func WithRequestBinding() SignerOption {
	return signerFunc(func(c *signerConfig) { c.bindRequest = true })
}

// WithBodyHash makes SignRequest and Transport add a bh claim binding each
// token to its request's body. The body is read to hash it and restored
// for sending.
func WithBodyHash() SignerOption {
	return signerFunc(func(c *signerConfig) { c.hashBody = true })
}
