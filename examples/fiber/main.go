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
	"net/http"
	"os"
	"strings"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
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

type order struct {
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

func run(out io.Writer) error {
	// The client service's key pair, made at start. The server is given
	// only the public key, registered under the client's name.
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		return err
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("billing", key.Public()); err != nil {
		return err
	}

	// The server: tokens must name this service and be bound to their
	// request and body.
	verifier, err := asymjwt.NewVerifier(keys,
		asymjwt.WithAudience("orders"), asymjwt.RequireAudience(),
		asymjwt.RequireRequestBinding(), asymjwt.RequireBodyHash())
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
		var o order
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
	signer, err := asymjwt.NewSigner("billing", key,
		asymjwt.WithAudience("orders"), asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())
	if err != nil {
		return err
	}
	signed := &http.Client{Transport: signer.Transport(nil), Timeout: 10 * time.Second}
	unsigned := &http.Client{Timeout: 10 * time.Second}

	failed := 0
	for _, c := range []struct {
		label, method, path, body string
		client                    *http.Client
		want                      int
	}{
		{"signed", http.MethodGet, "/orders/42", "", signed, http.StatusOK},
		{"signed", http.MethodPost, "/orders", `{"item":"widget","qty":3}`, signed, http.StatusCreated},
		{"unsigned, skipped route", http.MethodGet, "/healthz", "", unsigned, http.StatusOK},
		{"unsigned", http.MethodGet, "/orders/42", "", unsigned, http.StatusUnauthorized},
	} {
		req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		verdict := "as expected"
		if resp.StatusCode != c.want {
			verdict = fmt.Sprintf("UNEXPECTED (want %d)", c.want)
			failed++
		}
		fmt.Fprintf(out, "%s %s (%s)\n  -> %s: %s\n", c.method, c.path, c.label, resp.Status, verdict)
		fmt.Fprintf(out, "     %s\n", strings.TrimSpace(string(body)))
		if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
			fmt.Fprintf(out, "     WWW-Authenticate: %s\n", ch)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d outcomes differ from the protocol", failed)
	}
	return nil
}
