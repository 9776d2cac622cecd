package asymjwtgin

import (
	"net/http"
	"slices"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/gin-gonic/gin"
)

// Option configures Middleware.
type Option func(*config)

type config struct {
	optional  bool
	skipPaths []string
	skipper   gin.Skipper
	onError   func(*gin.Context, error)
	onSuccess func(*gin.Context, *asymjwt.Identity)
}

// Optional lets requests without credentials through anonymously:
// Identity reports false for them. Requests that present credentials must
// still pass: invalid credentials are refused, never downgraded, and a
// store failure is still a 503.
func Optional() Option {
	return func(c *config) { c.optional = true }
}

// WithSkipPaths lets requests to the given routes through unchecked. Each
// is a route pattern as registered and as c.FullPath() reports it
// ("/healthz", "/users/:id"), not a request path: the routes are skipped
// however their requests spell the path, and nothing else is. A pattern
// is skipped for every method registered on it: to skip GET /status but
// check POST /status, use WithSkipper.
func WithSkipPaths(routes ...string) Option {
	return func(c *config) { c.skipPaths = append(c.skipPaths, routes...) }
}

// WithSkipper lets requests for which skip returns true through
// unchecked, as gin.LoggerConfig's Skip does for logging.
func WithSkipper(skip gin.Skipper) Option {
	return func(c *config) { c.skipper = skip }
}

// WithErrorHandler replaces the answer to a refused request. err matches
// asymjwt's sentinels with errors.Is, and asymjwt.StatusCode(err) gives
// the default status; do not send err to the client. The chain is aborted
// after fn returns, whatever fn does. If fn wrote nothing and left the
// status at 200, the default refusal is written, so that a handler that
// only logs cannot turn a refusal into an empty 200.
func WithErrorHandler(fn func(c *gin.Context, err error)) Option {
	return func(c *config) { c.onError = fn }
}

// WithSuccessHandler runs fn after a request was authenticated, with its
// identity already on the context, before the next handler. If fn aborts
// (c.Abort and friends), the chain stops there.
func WithSuccessHandler(fn func(c *gin.Context, id *asymjwt.Identity)) Option {
	return func(c *config) { c.onSuccess = fn }
}

// Middleware returns a gin handler that authenticates each request with
// v. It panics if v is nil.
func Middleware(v *asymjwt.Verifier, opts ...Option) gin.HandlerFunc {
	if v == nil {
		panic("asymjwtgin: Middleware needs a *asymjwt.Verifier")
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return func(c *gin.Context) {
		authorization := asymjwt.AuthorizationValues(c.Request.Header)
		if _, ok := v.Authenticated(c.Request.Context(), authorization); ok {
			c.Next() // an outer layer of this middleware already did it, for this request
			return
		}
		if cfg.skipper != nil && cfg.skipper(c) || c.FullPath() != "" && slices.Contains(cfg.skipPaths, c.FullPath()) {
			anonymous(c)
			c.Next()
			return
		}
		id, err := v.Authenticate(c.Request.Context(), authorization, asymjwt.HTTPRequest(c.Request))
		switch {
		case err == nil:
			ctx, end := v.NewRequestContext(c.Request.Context(), id)
			defer end()
			c.Request = c.Request.WithContext(ctx)
			if cfg.onSuccess != nil {
				if cfg.onSuccess(c, id); c.IsAborted() {
					return
				}
			}
		case cfg.optional && asymjwt.IsAnonymous(err):
			anonymous(c)
		case cfg.onError != nil:
			if cfg.onError(c, err); !c.Writer.Written() && c.Writer.Status() == http.StatusOK {
				v.WriteError(c.Writer, err, false)
			}
			c.Abort()
			return
		default:
			_ = c.Error(err) // for gin's logger; private, never rendered by gin
			v.WriteError(c.Writer, err, false)
			c.Abort()
			return
		}
		c.Next()
	}
}

// anonymous hides from the rest of the chain an identity the request's
// context carried that this middleware did not verify for it.
func anonymous(c *gin.Context) {
	if ctx := asymjwt.WithoutIdentity(c.Request.Context()); ctx != c.Request.Context() {
		c.Request = c.Request.WithContext(ctx)
	}
}

// Identity returns the identity the middleware authenticated; false for
// an anonymous request (optional mode, skipped routes) or one that never
// passed the middleware.
func Identity(c *gin.Context) (*asymjwt.Identity, bool) {
	if c.Request == nil {
		return nil, false
	}
	return asymjwt.FromContext(c.Request.Context())
}
