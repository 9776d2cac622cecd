package asymjwtfiber_test

import (
	"net/http"
	"testing"

	"github.com/asymjwt/asymjwt/core/asymjwttest"
	asymjwtfiber "github.com/asymjwt/asymjwt/fiber"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// BenchmarkMiddleware measures one route without and with the middleware,
// and core's bare Verify on the same token shape: the middleware's
// overhead is with − without, to compare with verify. Requests go straight
// to the app's fasthttp handler, as fiber's own benchmarks do.
func BenchmarkMiddleware(b *testing.B) {
	b.Run("verify", func(b *testing.B) { asymjwttest.NewBench(b).BenchmarkVerify(b) })
	b.Run("without", func(b *testing.B) { benchmarkRoute(b, false) })
	b.Run("with", func(b *testing.B) { benchmarkRoute(b, true) })
}

func benchmarkRoute(b *testing.B, protected bool) {
	bench := asymjwttest.NewBench(b)
	app := quiet(fiber.Config{})
	if protected {
		app.Use(asymjwtfiber.New(bench.Verifier))
	}
	app.Get("/items/:id", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) })
	handler := app.Handler()
	// Each verified request needs a fresh token; unverified ones share a few.
	n := b.N
	if !protected {
		n = min(n, 1000)
	}
	auth := bench.Authorizations(b, n)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fiber.MethodGet)
	ctx.Request.SetRequestURI("/items/1")
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ctx.Request.Header.Set(fiber.HeaderAuthorization, auth[i%n])
		ctx.Response.Reset()
		handler(&ctx)
		if status := ctx.Response.StatusCode(); status != http.StatusNoContent {
			b.Fatalf("status %d", status)
		}
	}
}
