package asymjwtfiber_test

import (
	"context"
	"net"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/core/asymjwttest"
	asymjwtfiber "github.com/asymjwt/asymjwt/fiber"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// TestConformance runs the suite on fasthttp's two ways of reading a
// body: buffered (the default) and streamed.
func TestConformance(t *testing.T) {
	for name, cfg := range map[string]fiber.Config{
		"buffered": {},
		"streamed": {StreamRequestBody: true},
	} {
		t.Run(name, func(t *testing.T) {
			asymjwttest.Run(t, func(t testing.TB, app *asymjwttest.App) string {
				return listen(t, newApp(cfg, app, nil))
			})
		})
	}
}

// TestRules holds the middleware to the rules every adapter shares, on
// one fasthttp.RequestCtx reused for every call and never reset, as a
// pooled one that is not reset would be: each call's user context is
// the one the last call left, unless the rules hand one on.
func TestRules(t *testing.T) {
	asymjwttest.RunDriver(t, func(_ testing.TB, app *asymjwttest.App) asymjwttest.CallFunc {
		var carried context.Context
		h := newApp(fiber.Config{}, app, func(c *fiber.Ctx) error {
			if carried != nil {
				c.SetUserContext(carried)
			}
			return c.Next()
		}).Handler()
		fctx := &fasthttp.RequestCtx{}
		return func(t testing.TB, call asymjwttest.Call) asymjwttest.Answer {
			fctx.Request.Reset()
			fctx.Response.Reset()
			fctx.Request.Header.DisableNormalizing() // the keys as the call spells them
			target := "/items/1"
			if call.Public {
				target = asymjwttest.PublicRoute
			}
			fctx.Request.SetRequestURI(target)
			for _, f := range call.Credentials {
				fctx.Request.Header.Add(f.Key, f.Value)
			}
			carried = call.Context
			h(fctx)
			var challenge []string
			if v := fctx.Response.Header.Peek(fiber.HeaderWWWAuthenticate); v != nil {
				challenge = []string{string(v)}
			}
			return asymjwttest.HTTPAnswer(t, fctx.Response.StatusCode(), challenge, fctx.Response.Body())
		}
	})
}

// newApp serves the App's routes behind the middleware it asks for, after
// first when not nil.
func newApp(cfg fiber.Config, app *asymjwttest.App, first fiber.Handler) *fiber.App {
	config := asymjwtfiber.Config{Optional: app.Optional}
	if app.SkipPublic {
		config.Next = func(c *fiber.Ctx) bool { return c.Path() == asymjwttest.PublicRoute }
	}
	if app.ErrorHandler != nil {
		config.ErrorHandler = func(c *fiber.Ctx, err error) error {
			status, body := app.ErrorHandler(err)
			return c.Status(status).SendString(body)
		}
	}
	if app.SuccessHandler != nil {
		config.SuccessHandler = func(c *fiber.Ctx, id *asymjwt.Identity) error {
			c.Set(asymjwttest.SuccessHeader, app.SuccessHandler(id))
			return nil
		}
	}
	cfg.DisableStartupMessage = true
	f := fiber.New(cfg)
	if first != nil {
		f.Use(first)
	}
	if app.Stacked {
		f.Use(asymjwtfiber.New(app.Verifier, asymjwtfiber.Config{Optional: true}))
	}
	f.Use(asymjwtfiber.New(app.Verifier, config))
	handle := func(c *fiber.Ctx) error {
		id, _ := asymjwtfiber.Identity(c)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(app.Handle(c.UserContext(), id, c.Body()))
	}
	f.All(asymjwttest.ItemRoute, handle)
	f.All(asymjwttest.PublicRoute, handle)
	return f
}

// listen serves f on a loopback port until the test ends.
func listen(t testing.TB, f *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Listener(ln) }()
	t.Cleanup(func() {
		if err := f.ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}
