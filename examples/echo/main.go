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
	"time"

	asymjwtecho "github.com/asymjwt/asymjwt/echo"
	"github.com/asymjwt/asymjwt/examples/internal/demo"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echo example:", err)
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
		var o demo.Order
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
	return demo.Call(out, base, signer)
}
