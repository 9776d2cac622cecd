package asymjwtgin_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/core/asymjwttest"
	asymjwtgin "github.com/asymjwt/asymjwt/gin"
	"github.com/gin-gonic/gin"
)

func init() { gin.SetMode(gin.TestMode) }

func TestConformance(t *testing.T) {
	asymjwttest.Run(t, func(t testing.TB, app *asymjwttest.App) string {
		srv := httptest.NewServer(engine(app))
		t.Cleanup(srv.Close)
		return srv.URL
	})
}

// TestRules holds the middleware to the rules every adapter shares,
// called in process.
func TestRules(t *testing.T) {
	asymjwttest.RunDriver(t, asymjwttest.HTTPDriver(func(_ testing.TB, app *asymjwttest.App) http.Handler {
		return engine(app)
	}))
}

// engine serves the App's routes behind the middleware it asks for.
func engine(app *asymjwttest.App) *gin.Engine {
	var opts []asymjwtgin.Option
	if app.Optional {
		opts = append(opts, asymjwtgin.Optional())
	}
	if app.SkipPublic {
		opts = append(opts, asymjwtgin.WithSkipPaths(asymjwttest.PublicRoute))
	}
	if app.ErrorHandler != nil {
		opts = append(opts, asymjwtgin.WithErrorHandler(func(c *gin.Context, err error) {
			status, body := app.ErrorHandler(err)
			c.String(status, body)
		}))
	}
	if app.SuccessHandler != nil {
		opts = append(opts, asymjwtgin.WithSuccessHandler(func(c *gin.Context, id *asymjwt.Identity) {
			c.Header(asymjwttest.SuccessHeader, app.SuccessHandler(id))
		}))
	}
	r := gin.New()
	if app.Stacked {
		r.Use(asymjwtgin.Middleware(app.Verifier, asymjwtgin.Optional()))
	}
	r.Use(asymjwtgin.Middleware(app.Verifier, opts...))
	handle := func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			c.AbortWithError(http.StatusInternalServerError, err)
			return
		}
		id, _ := asymjwtgin.Identity(c)
		c.Data(http.StatusOK, "application/json", app.Handle(c.Request.Context(), id, body))
	}
	r.Any(asymjwttest.ItemRoute, handle)
	r.Any(asymjwttest.PublicRoute, handle)
	return r
}
