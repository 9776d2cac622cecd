// Command echo serves an API with echo behind asymjwtecho, on loopback, and
// calls it as a client service would: every request signed by the asymjwt
// Transport, bound to its method, path, query and body. It prints each
// call and exits non-zero if an outcome differs from what the protocol
// promises.
//
//	cd examples && go run ./echo
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtecho "github.com/asymjwt/asymjwt/echo"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echo example:", err)
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
	e := echo.New()
	e.HideBanner = true
	e.Use(middleware.Recover())
	e.Use(asymjwtecho.MiddlewareWithConfig(verifier, asymjwtecho.Config{
		Skipper: func(c echo.Context) bool { return c.Path() == "/healthz" },
	}))
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/orders/:id", func(c echo.Context) error {
		id, _ := asymjwtecho.Identity(c)
		return c.JSON(http.StatusOK, map[string]any{"order": c.Param("id"), "caller": id.Username})
	})
	e.POST("/orders", func(c echo.Context) error {
		var o order
		if err := c.Bind(&o); err != nil { // the body is still there
			return err
		}
		id, _ := asymjwtecho.Identity(c)
		return c.JSON(http.StatusCreated, map[string]any{"created": o, "caller": id.Username, "body_bound": id.BodyBound})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "echo server on %s trusts billing's public key\n\n", base)

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
