package asymjwtecho_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtecho "github.com/asymjwt/asymjwt/echo"
	"github.com/labstack/echo/v4"
)

// An echo server behind the middleware, on loopback, and a client whose
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

	e := echo.New()
	e.Use(asymjwtecho.MiddlewareWithConfig(verifier, asymjwtecho.Config{
		Skipper: func(c echo.Context) bool { return c.Path() == "/healthz" },
	}))
	e.GET("/orders", func(c echo.Context) error {
		id, _ := asymjwtecho.Identity(c)
		return c.String(http.StatusOK, "orders for "+id.Username)
	})
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	srv := httptest.NewServer(e)
	defer srv.Close()

	get := func(client *http.Client, path, authorization string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
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
	// /orders: 401 {"message":"Unauthorized"}
	// /healthz: 200 ok
	// /orders: 200 orders for billing
	// /orders: 401 {"message":"Unauthorized"}
}
