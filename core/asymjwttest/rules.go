package asymjwttest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// RunDriver holds the server d builds to the rules every adapter shares,
// HTTP or not, calling it in process:
//
//   - Accepted: a valid credential reaches the handler with its identity,
//     verified once.
//   - ExactlyOneCredential: no credential, or more than one (two values,
//     or the key spelled twice in different cases, whichever comes first)
//     is refused, and a refused call spends no token.
//   - Replay: a token is accepted once.
//   - Stacked: the middleware stacked (optional outside, required inside)
//     verifies a call once, and still refuses what the inner layer
//     refuses.
//   - NoCarryOver: an identity the request's context already carries
//     (handed on from an earlier call, as a reused context does, or made
//     up) vouches for nothing: the same token again is a replay, an
//     anonymous call stays anonymous, a skipped route sees no identity.
//   - Optional and Skip: anonymous and skipped calls reach the handler
//     with no identity; a skipped call spends no token.
//   - StoreFailure: a failing key or replay store refuses (fail closed)
//     as unavailable.
//
// Every refusal must stop the chain (the handler never runs), report its
// reason to the verifier's observer, show the caller no reason, and look
// like every other refusal of its kind from the same server.
func RunDriver(t *testing.T, d Driver) {
	t.Helper()
	f := newFixture(t, nil)
	t.Run("Accepted", func(t *testing.T) { f.ruleAccepted(t, d) })
	t.Run("ExactlyOneCredential", func(t *testing.T) { f.ruleOneCredential(t, d) })
	t.Run("Replay", func(t *testing.T) { f.ruleReplay(t, d) })
	t.Run("Stacked", func(t *testing.T) { f.ruleStacked(t, d) })
	t.Run("NoCarryOver", func(t *testing.T) { f.ruleNoCarryOver(t, d) })
	t.Run("Optional", func(t *testing.T) { f.ruleOptional(t, d) })
	t.Run("Skip", func(t *testing.T) { f.ruleSkip(t, d) })
	t.Run("StoreFailure", func(t *testing.T) { f.ruleStoreFailure(t, d) })
}

// driven is one server a Driver built, and what its verifier reported.
type driven struct {
	app  *App
	call CallFunc

	mu       sync.Mutex
	outcomes []asymjwt.Outcome
	refusals map[Kind]string // how the first refusal of each kind looked
}

// drive builds a server with d; keys (f.keys when nil) and opts make its
// verifier, configure sets the App's options.
func (f *fixture) drive(t *testing.T, d Driver, keys asymjwt.KeyStore, configure func(*App), opts ...asymjwt.VerifierOption) *driven {
	t.Helper()
	if keys == nil {
		keys = f.keys
	}
	s := &driven{app: &App{}, refusals: make(map[Kind]string)}
	opts = append([]asymjwt.VerifierOption{
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)),
		// A store of its own: no other test's tokens in it.
		asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()),
		asymjwt.WithObserver(func(_ context.Context, o asymjwt.Outcome) {
			s.mu.Lock()
			s.outcomes = append(s.outcomes, o)
			s.mu.Unlock()
		}),
	}, opts...)
	v, err := asymjwt.NewVerifier(keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.app.Verifier = v
	if configure != nil {
		configure(s.app)
	}
	if s.call = d(t, s.app); s.call == nil {
		t.Skipf("the driver cannot build %+v", s.app)
	}
	return s
}

// result is an Answer with what the handler and the verifier did.
type result struct {
	Answer
	handled  int64
	outcomes []asymjwt.Outcome
}

// send makes c and checks a refusal against the earlier ones.
func (s *driven) send(t *testing.T, c Call) *result {
	t.Helper()
	s.mu.Lock()
	s.outcomes = nil
	s.mu.Unlock()
	before := s.app.calls.Load()
	r := &result{Answer: s.call(t, c)}
	r.handled = s.app.calls.Load() - before
	s.mu.Lock()
	r.outcomes = s.outcomes
	s.mu.Unlock()
	if r.Kind == Unauthenticated || r.Kind == Unavailable {
		s.mu.Lock()
		first, seen := s.refusals[r.Kind]
		if !seen {
			s.refusals[r.Kind] = r.Seen
		}
		s.mu.Unlock()
		if seen && r.Seen != first {
			t.Errorf("%s refusal for %v seen as %s; an earlier one as %s: the answer must not tell which check failed",
				r.Kind, r.errs(), r.Seen, first)
		}
	}
	return r
}

// lastContext is the context the handler last ran with.
func (s *driven) lastContext(t *testing.T) context.Context {
	t.Helper()
	s.app.mu.Lock()
	defer s.app.mu.Unlock()
	if s.app.last == nil {
		t.Fatal("the handler never ran")
	}
	return s.app.last
}

func (r *result) errs() []error {
	out := make([]error, len(r.outcomes))
	for i, o := range r.outcomes {
		out[i] = o.Err
	}
	return out
}

func (r *result) String() string {
	if r.Other != "" {
		return r.Other
	}
	return fmt.Sprintf("%s %s (verifier reported %v)", r.Kind, r.Seen, r.errs())
}

// accepted checks that r reached the handler once with the identity of
// the token whose nonce is nonce, verified once.
func (r *result) accepted(t *testing.T, nonce string) {
	t.Helper()
	if r.Kind != Handled {
		t.Fatalf("%v, want the call handled", r)
	}
	if r.handled != 1 {
		t.Errorf("handler ran %d times, want 1", r.handled)
	}
	if len(r.outcomes) != 1 || r.outcomes[0].Err != nil {
		t.Errorf("verifier reported %v, want one success", r.errs())
	}
	if !r.Reply.Authenticated || !r.Reply.InContext || !r.Reply.Same || r.Reply.Username != "alice" {
		t.Errorf("handler saw %+v: want alice's identity from both the adapter's accessor and asymjwt.FromContext", r.Reply)
	}
	if nonce != "" && r.Reply.Nonce != nonce {
		t.Errorf("handler saw the identity of nonce %q, want %q", r.Reply.Nonce, nonce)
	}
}

// anonymous checks that r reached the handler once without an identity,
// after verifications verifications.
func (r *result) anonymous(t *testing.T, verifications int) {
	t.Helper()
	if r.Kind != Handled {
		t.Fatalf("%v, want the call handled", r)
	}
	if r.handled != 1 {
		t.Errorf("handler ran %d times, want 1", r.handled)
	}
	if len(r.outcomes) != verifications {
		t.Errorf("verifier reported %v, want %d outcome(s)", r.errs(), verifications)
	}
	if r.Reply.Authenticated || r.Reply.InContext {
		t.Errorf("handler saw %+v, want an anonymous call", r.Reply)
	}
}

// refused checks that r was refused as kind without reaching the
// handler, after verifications verifications that each reported want,
// and that the caller saw no reason.
func (r *result) refused(t *testing.T, kind Kind, want error, verifications int) {
	t.Helper()
	if r.Kind != kind {
		t.Errorf("%v, want %s", r, kind)
	}
	if r.handled != 0 {
		t.Errorf("handler ran %d times after a refusal", r.handled)
	}
	if len(r.outcomes) != verifications {
		t.Errorf("verifier reported %v, want %d × %v", r.errs(), verifications, want)
	}
	for _, o := range r.outcomes {
		if !errors.Is(o.Err, want) {
			t.Errorf("verifier reported %v, want %v", o.Err, want)
		}
		if o.Err != nil && strings.Contains(r.Seen, o.Err.Error()) {
			t.Errorf("the caller saw the reason: %s", r.Seen)
		}
	}
	if strings.Contains(strings.ToLower(r.Seen), "asymjwt:") {
		t.Errorf("the caller saw failure detail: %s", r.Seen)
	}
}

// credential is one Authorization field holding value.
func credential(value string) []Field { return []Field{{"Authorization", value}} }

// fresh returns a new token of alice's as an Authorization value, and its
// nonce.
func (f *fixture) fresh(t *testing.T) (value, nonce string) {
	t.Helper()
	alice := f.alice(t)
	token, err := alice.Token()
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.inspect(token)
	if err != nil {
		t.Fatal(err)
	}
	return alice.AuthorizationValue(token), id
}

// inspect returns the nonce of token, read by a verifier of its own.
func (f *fixture) inspect(token string) (string, error) {
	v, err := asymjwt.NewVerifier(f.keys, asymjwt.WithLogger(slog.New(slog.DiscardHandler)),
		asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()))
	if err != nil {
		return "", err
	}
	id, err := v.Verify(context.Background(), token)
	if err != nil {
		return "", err
	}
	return id.Nonce, nil
}

func (f *fixture) ruleAccepted(t *testing.T, d Driver) {
	s := f.drive(t, d, nil, nil)
	for _, key := range []string{"Authorization", "authorization", "AUTHORIZATION"} {
		t.Run(key, func(t *testing.T) {
			value, nonce := f.fresh(t)
			s.send(t, Call{Credentials: []Field{{key, value}}}).accepted(t, nonce)
		})
	}
}

func (f *fixture) ruleOneCredential(t *testing.T, d Driver) {
	s := f.drive(t, d, nil, nil)
	valid, nonce := f.fresh(t)
	other, _ := f.fresh(t)
	for _, tc := range []struct {
		name string
		sent []Field
		want error
	}{
		{"none", nil, asymjwt.ErrNoCredentials},
		{"empty", credential(""), asymjwt.ErrNoCredentials},
		{"two values", []Field{{"Authorization", valid}, {"Authorization", "JWT junk"}}, asymjwt.ErrMultipleCredentials},
		{"the same value twice", []Field{{"Authorization", valid}, {"Authorization", valid}}, asymjwt.ErrMultipleCredentials},
		{"valid, then junk under another spelling", []Field{{"authorization", valid}, {"Authorization", "JWT junk"}}, asymjwt.ErrMultipleCredentials},
		{"junk, then valid under another spelling", []Field{{"Authorization", "JWT junk"}, {"authorization", valid}}, asymjwt.ErrMultipleCredentials},
		{"two tokens, keys in odd cases", []Field{{"AUTHORIZATION", valid}, {"aUtHoRiZaTiOn", other}}, asymjwt.ErrMultipleCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.send(t, Call{Credentials: tc.sent}).refused(t, Unauthenticated, tc.want, 1)
		})
	}
	t.Run("no token spent", func(t *testing.T) {
		s.send(t, Call{Credentials: credential(valid)}).accepted(t, nonce)
	})
}

func (f *fixture) ruleReplay(t *testing.T, d Driver) {
	s := f.drive(t, d, nil, nil)
	value, nonce := f.fresh(t)
	s.send(t, Call{Credentials: credential(value)}).accepted(t, nonce)
	s.send(t, Call{Credentials: credential(value)}).refused(t, Unauthenticated, asymjwt.ErrReplay, 1)
}

func (f *fixture) ruleStacked(t *testing.T, d Driver) {
	s := f.drive(t, d, nil, func(a *App) { a.Stacked = true })
	t.Run("verified once", func(t *testing.T) {
		for range 2 {
			value, nonce := f.fresh(t)
			s.send(t, Call{Credentials: credential(value)}).accepted(t, nonce)
		}
	})
	t.Run("anonymous refused inside", func(t *testing.T) {
		// Both layers look: the outer lets it through, the inner refuses.
		s.send(t, Call{}).refused(t, Unauthenticated, asymjwt.ErrNoCredentials, 2)
	})
	t.Run("invalid refused outside", func(t *testing.T) {
		s.send(t, Call{Credentials: credential("JWT not.a.token")}).refused(t, Unauthenticated, asymjwt.ErrMalformed, 1)
	})
	t.Run("replay refused", func(t *testing.T) {
		value, nonce := f.fresh(t)
		s.send(t, Call{Credentials: credential(value)}).accepted(t, nonce)
		s.send(t, Call{Credentials: credential(value)}).refused(t, Unauthenticated, asymjwt.ErrReplay, 1)
	})
	t.Run("both optional", func(t *testing.T) {
		opt := f.drive(t, d, nil, func(a *App) { a.Stacked, a.Optional = true, true })
		opt.send(t, Call{}).anonymous(t, 2)
		value, nonce := f.fresh(t)
		opt.send(t, Call{Credentials: credential(value)}).accepted(t, nonce)
	})
}

func (f *fixture) ruleNoCarryOver(t *testing.T, d Driver) {
	madeUp := asymjwt.NewContext(context.Background(), &asymjwt.Identity{Username: "alice"})
	for _, stacked := range []bool{false, true} {
		t.Run(fmt.Sprintf("stacked=%v", stacked), func(t *testing.T) {
			s := f.drive(t, d, nil, func(a *App) { a.Stacked = stacked })
			value, nonce := f.fresh(t)
			s.send(t, Call{Credentials: credential(value)}).accepted(t, nonce)
			used := s.lastContext(t)
			t.Run("same token on the context it was verified on", func(t *testing.T) {
				s.send(t, Call{Credentials: credential(value), Context: used}).refused(t, Unauthenticated, asymjwt.ErrReplay, 1)
			})
			t.Run("new token on that context", func(t *testing.T) {
				next, nextNonce := f.fresh(t)
				s.send(t, Call{Credentials: credential(next), Context: used}).accepted(t, nextNonce)
			})
			t.Run("no token on that context", func(t *testing.T) {
				want := 1
				if stacked {
					want = 2
				}
				s.send(t, Call{Context: used}).refused(t, Unauthenticated, asymjwt.ErrNoCredentials, want)
			})
			t.Run("made-up identity", func(t *testing.T) {
				next, nextNonce := f.fresh(t)
				s.send(t, Call{Credentials: credential(next), Context: madeUp}).accepted(t, nextNonce)
			})
		})
	}
	t.Run("optional", func(t *testing.T) {
		s := f.drive(t, d, nil, func(a *App) { a.Optional = true })
		value, nonce := f.fresh(t)
		s.send(t, Call{Credentials: credential(value)}).accepted(t, nonce)
		used := s.lastContext(t)
		s.send(t, Call{Context: used}).anonymous(t, 1)
		s.send(t, Call{Context: madeUp}).anonymous(t, 1)
		s.send(t, Call{Credentials: credential(value), Context: used}).refused(t, Unauthenticated, asymjwt.ErrReplay, 1)
	})
	t.Run("skipped", func(t *testing.T) {
		s := f.drive(t, d, nil, func(a *App) { a.SkipPublic = true })
		value, nonce := f.fresh(t)
		s.send(t, Call{Credentials: credential(value)}).accepted(t, nonce)
		used := s.lastContext(t)
		s.send(t, Call{Public: true, Context: used}).anonymous(t, 0)
		s.send(t, Call{Public: true, Context: madeUp}).anonymous(t, 0)
	})
}

func (f *fixture) ruleOptional(t *testing.T, d Driver) {
	s := f.drive(t, d, nil, func(a *App) { a.Optional = true })
	s.send(t, Call{}).anonymous(t, 1)
	s.send(t, Call{Credentials: credential("")}).anonymous(t, 1)
	value, nonce := f.fresh(t)
	s.send(t, Call{Credentials: credential(value)}).accepted(t, nonce)
	for _, tc := range []struct {
		name string
		sent []Field
		want error
	}{
		{"malformed", credential("JWT not.a.token"), asymjwt.ErrMalformed},
		{"other scheme", credential("Bearer abc"), asymjwt.ErrScheme},
		{"replayed", credential(value), asymjwt.ErrReplay},
		{"two spellings", []Field{{"authorization", "JWT a.b.c"}, {"Authorization", value}}, asymjwt.ErrMultipleCredentials},
	} {
		t.Run("invalid "+tc.name, func(t *testing.T) {
			s.send(t, Call{Credentials: tc.sent}).refused(t, Unauthenticated, tc.want, 1)
		})
	}
}

func (f *fixture) ruleSkip(t *testing.T, d Driver) {
	s := f.drive(t, d, nil, func(a *App) { a.SkipPublic = true })
	value, nonce := f.fresh(t)
	s.send(t, Call{Public: true}).anonymous(t, 0)
	s.send(t, Call{Public: true, Credentials: credential("JWT not.a.token")}).anonymous(t, 0)
	s.send(t, Call{Public: true, Credentials: credential(value)}).anonymous(t, 0)
	// The skipped call never recorded the nonce: the token still works.
	s.send(t, Call{Credentials: credential(value)}).accepted(t, nonce)
	s.send(t, Call{}).refused(t, Unauthenticated, asymjwt.ErrNoCredentials, 1)
}

func (f *fixture) ruleStoreFailure(t *testing.T, d Driver) {
	for _, tc := range []struct {
		name string
		keys asymjwt.KeyStore
		opts []asymjwt.VerifierOption
	}{
		{"replay store down", nil, []asymjwt.VerifierOption{asymjwt.WithReplayStore(downReplayStore{})}},
		{"key store down", downKeyStore{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, optional := range []bool{false, true} {
				s := f.drive(t, d, tc.keys, func(a *App) { a.Optional = optional }, tc.opts...)
				value, _ := f.fresh(t)
				s.send(t, Call{Credentials: credential(value)}).refused(t, Unavailable, asymjwt.ErrStoreUnavailable, 1)
				other, _ := f.fresh(t)
				s.send(t, Call{Credentials: credential(other)}).refused(t, Unavailable, asymjwt.ErrStoreUnavailable, 1)
			}
		})
	}
}
