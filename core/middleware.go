package asymjwt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
)

// VerifyRequest authenticates r: its Authorization header, and its method,
// path, query and body for qsh and bh. When the body is read for bh it is
// put back, so handlers can still read it.
func (v *Verifier) VerifyRequest(r *http.Request) (*Identity, error) {
	return v.Authenticate(r.Context(), AuthorizationValues(r.Header), HTTPRequest(r))
}

// AuthorizationValues returns every Authorization value in h, under every
// spelling of the key: net/http canonicalizes the keys it reads from the
// wire, but a header built in process (a gateway, a test) may hold
// "authorization" beside "Authorization". All of them count, so that a
// second credential is refused (ErrMultipleCredentials, docs/PROTOCOL.md §1.1) rather
// than one picked.
func AuthorizationValues(h http.Header) []string {
	const key = "Authorization"
	values := h[key]
	for k, vs := range h {
		if len(k) == len(key) && k != key && strings.EqualFold(k, key) {
			values = append(values[:len(values):len(values)], vs...)
		}
	}
	return values
}

// HTTPRequest describes r for request and body binding. Its Body reads at
// most limit bytes and restores r.Body for the handler.
func HTTPRequest(r *http.Request) *Request {
	return &Request{
		Method:   r.Method,
		Path:     r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery,
		Body:     func(limit int64) ([]byte, error) { return bufferBody(r, limit) },
	}
}

func bufferBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d, limit %d", ErrBodyTooLarge, r.ContentLength, limit)
	}
	n := limit
	if n < math.MaxInt64 {
		n++ // one byte more than allowed tells "too large" from "exactly the limit"
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, n))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(data), r.Body), r.Body}
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	return data, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// MiddlewareOption configures MiddlewareWith.
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	optional      bool
	errorHandler  func(http.ResponseWriter, *http.Request, error)
	exposeDetails bool
}

// Optional lets requests without credentials through anonymously
// (FromContext reports false). Requests that present credentials must
// still pass: invalid credentials are refused, never downgraded.
func Optional() MiddlewareOption {
	return func(c *middlewareConfig) { c.optional = true }
}

// WithErrorHandler replaces the response written on refusal. err matches
// the package's sentinels with errors.Is; StatusCode(err) gives the
// default status. Do not echo err to the client.
func WithErrorHandler(fn func(w http.ResponseWriter, r *http.Request, err error)) MiddlewareOption {
	return func(c *middlewareConfig) { c.errorHandler = fn }
}

// InsecureExposeErrorDetails puts the refusal reason in the response body.
// It tells an attacker which check failed: for debugging only.
func InsecureExposeErrorDetails() MiddlewareOption {
	return func(c *middlewareConfig) { c.exposeDetails = true }
}

// Middleware authenticates every request before next runs: refused
// requests get 401 (with WWW-Authenticate) or 503 and never reach next;
// accepted ones carry their Identity (FromContext).
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return v.MiddlewareWith()(next)
}

// MiddlewareWith is Middleware with options, in the func(http.Handler)
// http.Handler shape routers such as chi take.
func (v *Verifier) MiddlewareWith(opts ...MiddlewareOption) func(http.Handler) http.Handler {
	var cfg middlewareConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.errorHandler == nil {
		cfg.errorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			v.WriteError(w, err, cfg.exposeDetails)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			authorization := AuthorizationValues(r.Header)
			if _, ok := v.Authenticated(r.Context(), authorization); ok {
				next.ServeHTTP(w, r) // an outer layer of this middleware already did it
				return
			}
			id, err := v.Authenticate(r.Context(), authorization, HTTPRequest(r))
			switch {
			case err == nil:
				ctx, end := v.NewRequestContext(r.Context(), id)
				defer end()
				next.ServeHTTP(w, r.WithContext(ctx))
			case cfg.optional && IsAnonymous(err):
				if ctx := WithoutIdentity(r.Context()); ctx != r.Context() {
					r = r.WithContext(ctx)
				}
				next.ServeHTTP(w, r)
			default:
				cfg.errorHandler(w, r, err)
			}
		})
	}
}

// IsAnonymous reports whether err means only that no credentials were
// presented: what optional modes let through.
func IsAnonymous(err error) bool {
	return errors.Is(err, ErrNoCredentials)
}

// WriteError writes the refusal for err: 401 with the WWW-Authenticate
// challenge, or 503 when a store failed. The body names only the status
// unless exposeDetails (insecure, for debugging).
func (v *Verifier) WriteError(w http.ResponseWriter, err error, exposeDetails bool) {
	status := StatusCode(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", v.challenge)
	}
	msg := http.StatusText(status)
	if exposeDetails {
		msg = err.Error()
	}
	http.Error(w, msg, status)
}
