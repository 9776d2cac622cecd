package asymjwtecho

import (
	"net/http"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Config configures MiddlewareWithConfig. The zero value is what
// Middleware uses.
type Config struct {
	// Skipper lets requests for which it returns true through unchecked.
	// Default: middleware.DefaultSkipper (check every request).
	Skipper middleware.Skipper

	// Optional lets requests without credentials through anonymously:
	// Identity reports false for them. Requests that present credentials
	// must still pass: invalid credentials are refused, never downgraded,
	// and a store failure is still a 503.
	Optional bool

	// ErrorHandler replaces the answer to a refused request. err matches
	// asymjwt's sentinels with errors.Is, and asymjwt.StatusCode(err)
	// gives the default status; do not send err to the client. What it
	// returns is returned by the middleware (nil: it wrote the response).
	// If it returns nil without writing the response, the middleware
	// returns the default *echo.HTTPError, so that a handler that only
	// logs cannot turn a refusal into an empty 200. next is never called
	// for a refused request.
	ErrorHandler func(c echo.Context, err error) error

	// SuccessHandler runs after a request was authenticated, with its
	// identity already on the context, before next. An error it returns
	// stops the chain and is returned by the middleware.
	SuccessHandler func(c echo.Context, id *asymjwt.Identity) error
}

// Middleware returns echo middleware that authenticates each request with
// v. It panics if v is nil.
func Middleware(v *asymjwt.Verifier) echo.MiddlewareFunc {
	return MiddlewareWithConfig(v, Config{})
}

// MiddlewareWithConfig is Middleware with options. It panics if v is nil.
func MiddlewareWithConfig(v *asymjwt.Verifier, config Config) echo.MiddlewareFunc {
	if v == nil {
		panic("asymjwtecho: middleware needs a *asymjwt.Verifier")
	}
	if config.Skipper == nil {
		config.Skipper = middleware.DefaultSkipper
	}
	refuse := func(c echo.Context, err error) error {
		status := asymjwt.StatusCode(err)
		if status == http.StatusUnauthorized {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, v.Challenge())
		}
		return &echo.HTTPError{Code: status, Message: http.StatusText(status), Internal: err}
	}
	if custom := config.ErrorHandler; custom != nil {
		config.ErrorHandler = func(c echo.Context, err error) error {
			if herr := custom(c, err); herr != nil || c.Response().Committed {
				return herr
			}
			return refuse(c, err)
		}
	} else {
		config.ErrorHandler = refuse
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			authorization := asymjwt.AuthorizationValues(r.Header)
			if _, ok := v.Authenticated(r.Context(), authorization); ok {
				return next(c) // an outer layer of this middleware already did it, for this request
			}
			if config.Skipper(c) {
				anonymous(c)
				return next(c)
			}
			id, err := v.Authenticate(r.Context(), authorization, asymjwt.HTTPRequest(r))
			switch {
			case err == nil:
				ctx, end := v.NewRequestContext(r.Context(), id)
				defer end()
				c.SetRequest(r.WithContext(ctx))
				if config.SuccessHandler != nil {
					if err := config.SuccessHandler(c, id); err != nil {
						return err
					}
				}
			case config.Optional && asymjwt.IsAnonymous(err):
				anonymous(c)
			default:
				return config.ErrorHandler(c, err)
			}
			return next(c)
		}
	}
}

// anonymous hides from the rest of the chain an identity the request's
// context carried that this middleware did not verify for it.
func anonymous(c echo.Context) {
	r := c.Request()
	if ctx := asymjwt.WithoutIdentity(r.Context()); ctx != r.Context() {
		c.SetRequest(r.WithContext(ctx))
	}
}

// Identity returns the identity the middleware authenticated; false for
// an anonymous request (optional mode, skipped requests) or one that
// never passed the middleware.
func Identity(c echo.Context) (*asymjwt.Identity, bool) {
	r := c.Request()
	if r == nil {
		return nil, false
	}
	return asymjwt.FromContext(r.Context())
}
