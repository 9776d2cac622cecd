package asymjwtecho_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/core/asymjwttest"
	asymjwtecho "github.com/asymjwt/asymjwt/echo"
	"github.com/labstack/echo/v4"
)

func TestConformance(t *testing.T) {
	asymjwttest.Run(t, func(t testing.TB, app *asymjwttest.App) string {
		srv := httptest.NewServer(server(app))
		t.Cleanup(srv.Close)
		return srv.URL
	})
}

// TestRules holds the middleware to the rules every adapter shares,
// called in process.
func TestRules(t *testing.T) {
	asymjwttest.RunDriver(t, asymjwttest.HTTPDriver(func(_ testing.TB, app *asymjwttest.App) http.Handler {
		return server(app)
	}))
}

// server serves the App's routes behind the middleware it asks for.
func server(app *asymjwttest.App) *echo.Echo {
	config := asymjwtecho.Config{Optional: app.Optional}
	if app.SkipPublic {
		config.Skipper = func(c echo.Context) bool { return c.Path() == asymjwttest.PublicRoute }
	}
	if app.ErrorHandler != nil {
		config.ErrorHandler = func(c echo.Context, err error) error {
			status, body := app.ErrorHandler(err)
			return c.String(status, body)
		}
	}
	if app.SuccessHandler != nil {
		config.SuccessHandler = func(c echo.Context, id *asymjwt.Identity) error {
			c.Response().Header().Set(asymjwttest.SuccessHeader, app.SuccessHandler(id))
			return nil
		}
	}
	e := echo.New()
	if app.Stacked {
		e.Use(asymjwtecho.MiddlewareWithConfig(app.Verifier, asymjwtecho.Config{Optional: true}))
	}
	e.Use(asymjwtecho.MiddlewareWithConfig(app.Verifier, config))
	handle := func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		id, _ := asymjwtecho.Identity(c)
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, app.Handle(c.Request().Context(), id, body))
	}
	e.Any(asymjwttest.ItemRoute, handle)
	e.Any(asymjwttest.PublicRoute, handle)
	return e
}
