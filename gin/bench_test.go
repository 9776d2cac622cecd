package asymjwtgin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/asymjwt/asymjwt/core/asymjwttest"
	asymjwtgin "github.com/asymjwt/asymjwt/gin"
	"github.com/gin-gonic/gin"
)

// BenchmarkMiddleware measures one route without and with the middleware,
// and core's bare Verify on the same token shape: the middleware's
// overhead is with − without, to compare with verify.
func BenchmarkMiddleware(b *testing.B) {
	b.Run("verify", func(b *testing.B) { asymjwttest.NewBench(b).BenchmarkVerify(b) })
	b.Run("without", func(b *testing.B) { benchmarkRoute(b, false) })
	b.Run("with", func(b *testing.B) { benchmarkRoute(b, true) })
}

func benchmarkRoute(b *testing.B, protected bool) {
	bench := asymjwttest.NewBench(b)
	r := gin.New()
	if protected {
		r.Use(asymjwtgin.Middleware(bench.Verifier))
	}
	r.GET("/items/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	// Each verified request needs a fresh token; unverified ones share a few.
	n := b.N
	if !protected {
		n = min(n, 1000)
	}
	auth := bench.Authorizations(b, n)
	req := httptest.NewRequest(http.MethodGet, "/items/1", nil)
	w := &statusWriter{header: make(http.Header)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req.Header.Set("Authorization", auth[i%n])
		w.status = 0
		r.ServeHTTP(w, req)
		if w.status != http.StatusNoContent {
			b.Fatalf("status %d", w.status)
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
