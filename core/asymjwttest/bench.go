package asymjwttest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// Bench is what an adapter benchmark needs: a verifier and fresh tokens of
// one shape (Ed25519, no aud, qsh or bh), the shape [Bench.BenchmarkVerify]
// measures with core's bare Verify — the baseline the middleware's
// overhead is compared with.
type Bench struct {
	// Verifier accepts the tokens; its memory replay store records each.
	Verifier *asymjwt.Verifier
	signer   *asymjwt.Signer
}

// NewBench returns a Bench with a new key and a verifier that logs nothing.
func NewBench(tb testing.TB) *Bench {
	tb.Helper()
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		tb.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("bench", key.Public()); err != nil {
		tb.Fatal(err)
	}
	v, err := asymjwt.NewVerifier(keys, asymjwt.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := asymjwt.NewSigner("bench", key)
	if err != nil {
		tb.Fatal(err)
	}
	return &Bench{Verifier: v, signer: s}
}

// Tokens returns n fresh tokens. Sign them before the timed loop: a token
// is accepted once, so each request needs its own.
func (b *Bench) Tokens(tb testing.TB, n int) []string {
	tb.Helper()
	out := make([]string, n)
	for i := range out {
		tok, err := b.signer.Token()
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = tok
	}
	return out
}

// Authorizations returns n Authorization header values, each with a
// fresh token.
func (b *Bench) Authorizations(tb testing.TB, n int) []string {
	tb.Helper()
	out := b.Tokens(tb, n)
	for i, tok := range out {
		out[i] = b.signer.AuthorizationValue(tok)
	}
	return out
}

// BenchmarkVerify measures core's bare (*asymjwt.Verifier).Verify on the
// token shape of the Bench.
func (b *Bench) BenchmarkVerify(tb *testing.B) {
	tokens := b.Tokens(tb, tb.N)
	ctx := context.Background()
	tb.ReportAllocs()
	tb.ResetTimer()
	for i := range tb.N {
		if _, err := b.Verifier.Verify(ctx, tokens[i]); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkHandler measures GET target on h, an http.Handler such as a gin
// engine or an echo instance, expecting want. With signed set every
// request carries a fresh token (signed before the timer starts);
// without, the route is measured bare.
func (b *Bench) BenchmarkHandler(tb *testing.B, h http.Handler, target string, signed bool, want int) {
	// Each verified request needs a fresh token; unverified ones share a few.
	n := tb.N
	if !signed {
		n = min(n, 1000)
	}
	auth := b.Authorizations(tb, n)
	req := httptest.NewRequest(http.MethodGet, target, nil)
	w := &statusWriter{header: make(http.Header)}
	tb.ReportAllocs()
	tb.ResetTimer()
	for i := range tb.N {
		req.Header.Set("Authorization", auth[i%n])
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != want {
			tb.Fatalf("status %d, want %d", w.status, want)
		}
	}
}

// statusWriter is a ResponseWriter that keeps only the status.
type statusWriter struct {
	header http.Header
	status int
}

func (w *statusWriter) Header() http.Header         { return w.header }
func (w *statusWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *statusWriter) WriteHeader(status int)      { w.status = status }
