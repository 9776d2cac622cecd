// Command fiber serves an API with fiber behind asymjwtfiber, on loopback, and
// calls it as a client service would: every request signed by the asymjwt
// Transport, bound to its method, path, query and body. It prints each
// call and exits non-zero if an outcome differs from what the protocol
// promises.
//
//	cd examples && go run ./fiber
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/asymjwt/asymjwt/examples/internal/demo"
	asymjwtfiber "github.com/asymjwt/asymjwt/fiber"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fiber example:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	// The client service's key pair is made at start; the server is given
	// only its public key (see internal/demo).
	verifier, signer, err := demo.Setup()
	if err != nil {
		return err
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: 5 * time.Second})
	app.Use(recover.New())
	app.Use(asymjwtfiber.New(verifier, asymjwtfiber.Config{
		Next: func(c *fiber.Ctx) bool { return c.Path() == "/healthz" },
	}))
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/orders/:id", func(c *fiber.Ctx) error {
		id, _ := asymjwtfiber.Identity(c)
		return c.JSON(fiber.Map{"order": c.Params("id"), "caller": id.Username})
	})
	app.Post("/orders", func(c *fiber.Ctx) error {
		var o demo.Order
		if err := c.BodyParser(&o); err != nil { // the body is still there
			return fiber.ErrBadRequest
		}
		id, _ := asymjwtfiber.Identity(c)
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"created": o, "caller": id.Username, "body_bound": id.BodyBound})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go app.Listener(ln)
	defer app.Shutdown()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "fiber server on %s trusts billing's public key\n\n", base)

	// The client: the Transport signs every request with a fresh token.
	return demo.Call(out, base, signer)
}
