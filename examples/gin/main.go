// Command gin serves an API with gin behind asymjwtgin, on loopback, and
// calls it as a client service would: every request signed by the asymjwt
// Transport, bound to its method, path, query and body. It prints each
// call and exits non-zero if an outcome differs from what the protocol
// promises.
//
//	cd examples && go run ./gin
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/asymjwt/asymjwt/examples/internal/demo"
	asymjwtgin "github.com/asymjwt/asymjwt/gin"
	"github.com/gin-gonic/gin"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gin example:", err)
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
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.Use(asymjwtgin.Middleware(verifier, asymjwtgin.WithSkipPaths("/healthz")))
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.GET("/orders/:id", func(c *gin.Context) {
		id, _ := asymjwtgin.Identity(c)
		c.JSON(http.StatusOK, gin.H{"order": c.Param("id"), "caller": id.Username})
	})
	r.POST("/orders", func(c *gin.Context) {
		var o demo.Order
		if err := c.ShouldBindJSON(&o); err != nil { // the body is still there
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		id, _ := asymjwtgin.Identity(c)
		c.JSON(http.StatusCreated, gin.H{"created": o, "caller": id.Username, "body_bound": id.BodyBound})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "gin server on %s trusts billing's public key\n\n", base)

	// The client: the Transport signs every request with a fresh token.
	return demo.Call(out, base, signer)
}
