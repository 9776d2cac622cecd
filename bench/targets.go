package bench

import (
	"net/http"
	"net/http/httptest"

	"github.com/valyala/fasthttp"
)

// Handled is the status of the route's handler (and of a bare verifier
// that accepts): a status no framework and no middleware sends by default,
// so a request that did not reach the handler cannot pass for one that did.
const Handled = http.StatusNoContent

// Target authenticates one request. Do presents credential (a bare token,
// or an Authorization value for cases behind a framework) and returns the
// status the client would see: Handled when the handler ran, else the
// refusal.
// Framework targets reuse one request and response, so Do is safe for
// concurrent use only on bare targets (Case.Framework == Bare).
type Target interface {
	Do(credential string) int
}

// verifyFunc is a bare target: a verification call and no framework.
type verifyFunc func(token string) error

func (f verifyFunc) Do(token string) int {
	if f(token) != nil {
		return http.StatusUnauthorized
	}
	return Handled
}

// httpTarget drives an http.Handler (net/http, gin, echo) in process: one
// request, one response writer, both reset between calls, so the harness
// itself does not allocate.
type httpTarget struct {
	h     http.Handler
	req   *http.Request
	value []string
	w     *responseWriter
}

func newHTTPTarget(h http.Handler) *httpTarget {
	req := httptest.NewRequest(Method, "http://api.example"+Path+"?"+RawQuery, nil)
	t := &httpTarget{h: h, req: req, value: []string{""}, w: &responseWriter{header: http.Header{}}}
	req.Header["Authorization"] = t.value
	return t
}

func (t *httpTarget) Do(authorization string) int {
	t.value[0] = authorization
	clear(t.w.header)
	t.w.status = 0
	t.h.ServeHTTP(t.w, t.req)
	return t.w.status
}

// responseWriter keeps the status (0 when nothing was written) and
// discards the body.
type responseWriter struct {
	header http.Header
	status int
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// fasthttpTarget drives a fasthttp handler (fiber) in process, the way
// fiber's own benchmarks do: one RequestCtx, its response and user values
// reset between calls.
type fasthttpTarget struct {
	h   fasthttp.RequestHandler
	ctx *fasthttp.RequestCtx
}

func newFasthttpTarget(h fasthttp.RequestHandler) *fasthttpTarget {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod(Method)
	ctx.Request.SetRequestURI(Path + "?" + RawQuery)
	ctx.Request.Header.SetHost("api.example")
	return &fasthttpTarget{h: h, ctx: ctx}
}

func (t *fasthttpTarget) Do(authorization string) int {
	t.ctx.Request.Header.Set("Authorization", authorization)
	t.ctx.Response.Reset()
	t.ctx.ResetUserValues() // as fasthttp's server does between requests
	t.h(t.ctx)
	return t.ctx.Response.StatusCode()
}
