package asymjwtfiber_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtfiber "github.com/asymjwt/asymjwt/fiber"
	"github.com/gofiber/fiber/v2"
)

// A fiber server behind the middleware, on loopback, and a client whose
// Transport signs every request: the identity reaches the handler, a
// request without credentials and a replayed token are refused.
func Example() {
	// Client side: a private key that never leaves the client.
	key, _ := asymjwt.GenerateKey(asymjwt.KindEd25519)
	signer, _ := asymjwt.NewSigner("billing", key)

	// Server side: only the public key, registered under the username.
	keys := asymjwt.NewMemoryKeyStore()
	keys.Add("billing", key.Public())
	verifier, _ := asymjwt.NewVerifier(keys, asymjwt.WithLogger(slog.New(slog.DiscardHandler)))

	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(asymjwtfiber.New(verifier, asymjwtfiber.Config{
		Next: func(c *fiber.Ctx) bool { return c.Path() == "/healthz" },
	}))
	app.Get("/orders", func(c *fiber.Ctx) error {
		id, _ := asymjwtfiber.Identity(c)
		return c.SendString("orders for " + id.Username)
	})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go app.Listener(ln)
	defer app.Shutdown()
	base := "http://" + ln.Addr().String()

	get := func(client *http.Client, path, authorization string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s: %d %s\n", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	get(&http.Client{Transport: signer.Transport(nil)}, "/orders", "")
	get(http.DefaultClient, "/orders", "")  // no credentials
	get(http.DefaultClient, "/healthz", "") // skipped

	token, _ := signer.Token()
	get(http.DefaultClient, "/orders", signer.AuthorizationValue(token))
	get(http.DefaultClient, "/orders", signer.AuthorizationValue(token)) // replayed
	// Output:
	// /orders: 200 orders for billing
	// /orders: 401 Unauthorized
	// /healthz: 200 ok
	// /orders: 200 orders for billing
	// /orders: 401 Unauthorized
}
