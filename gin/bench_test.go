package asymjwtgin_test

import (
	"net/http"
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
	bench.BenchmarkHandler(b, r, "/items/1", protected, http.StatusNoContent)
}
