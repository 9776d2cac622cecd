package asymjwtfiber_test

import (
	"net"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/core/asymjwttest"
	asymjwtfiber "github.com/asymjwt/asymjwt/fiber"
	"github.com/gofiber/fiber/v2"
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
				f.Use(asymjwtfiber.New(app.Verifier, config))
				handle := func(c *fiber.Ctx) error {
					id, _ := asymjwtfiber.Identity(c)
					c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
					return c.Send(app.Handle(c.UserContext(), id, c.Body()))
				}
				f.All(asymjwttest.ItemRoute, handle)
				f.All(asymjwttest.PublicRoute, handle)
				return listen(t, f)
			})
		})
	}
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
