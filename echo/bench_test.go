package asymjwtecho_test

import (
	"net/http"
	"testing"

	"github.com/asymjwt/asymjwt/core/asymjwttest"
	asymjwtecho "github.com/asymjwt/asymjwt/echo"
	"github.com/labstack/echo/v4"
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
	e := echo.New()
	if protected {
		e.Use(asymjwtecho.Middleware(bench.Verifier))
	}
	e.GET("/items/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	bench.BenchmarkHandler(b, e, "/items/1", protected, http.StatusNoContent)
}
