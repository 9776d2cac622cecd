package asymjwtgin_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtgin "github.com/asymjwt/asymjwt/gin"
	"github.com/gin-gonic/gin"
)

// A gin server behind the middleware, on loopback, and a client whose
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

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(asymjwtgin.Middleware(verifier, asymjwtgin.WithSkipPaths("/healthz")))
	r.GET("/orders", func(c *gin.Context) {
		id, _ := asymjwtgin.Identity(c)
		c.String(http.StatusOK, "orders for %s", id.Username)
	})
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	srv := httptest.NewServer(r)
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
	// /orders: 401 Unauthorized
	// /healthz: 200 ok
	// /orders: 200 orders for billing
	// /orders: 401 Unauthorized
}
