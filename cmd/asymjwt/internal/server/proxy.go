package server

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"sync"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// DefaultUserHeader carries the authenticated username to the upstream.
const DefaultUserHeader = "X-Authenticated-User"

var errUnsafeUsername = errors.New("asymjwt proxy: username cannot be forwarded in a header")

// ProxyConfig configures NewProxy.
type ProxyConfig struct {
	// Verifier authenticates every request.
	Verifier *asymjwt.Verifier
	// Upstream receives accepted requests; its path and query prefix theirs.
	Upstream *url.URL
	// UserHeader carries the username to the upstream (DefaultUserHeader
	// when empty); the client's own headers of that name are removed.
	UserHeader string
	// HealthPath, when not empty, is answered with 200 without credentials.
	HealthPath string
	// Logger receives the access log and refusal reasons.
	Logger *slog.Logger
	// Metrics, when set, times the upstream and counts its failures.
	Metrics *ProxyMetrics
	// AllowWebSocket lets verified WebSocket handshakes switch protocols;
	// the frames that follow are not verified. Every other upgrade, and
	// CONNECT, is refused whatever its value.
	AllowWebSocket bool
}

// NewProxy returns the authenticating reverse proxy: requests verified by
// c.Verifier go to c.Upstream without their Authorization header, with
// the username in c.UserHeader, the query as verified, no trailers and
// no method or URL override headers; refused requests get 401 (503 when
// a store is down) and never reach the upstream; an unparseable query
// gets 400 and a protocol upgrade 400 (CONNECT 405) before
// authentication, unless c.AllowWebSocket lets a WebSocket handshake
// through; an unreachable upstream gives 502.
func NewProxy(c ProxyConfig) http.Handler {
	v, upstream, userHeader, healthPath, logger := c.Verifier, c.Upstream, c.UserHeader, c.HealthPath, c.Logger
	if userHeader == "" {
		userHeader = DefaultUserHeader
	}
	userHeader = textproto.CanonicalMIMEHeaderKey(userHeader)
	userKey := headerKey(userHeader)
	rp := newReverseProxy("asymjwt proxy", logger)
	rp.Transport = UpstreamTransport()
	rp.Rewrite = func(pr *httputil.ProxyRequest) {
		pr.SetURL(upstream)
		// Forward the query that was verified: Rewrite mode has already
		// re-encoded it when it held ";", bad escapes or too many
		// parameters (refused before this), or under GODEBUG=urlmaxqueryparams.
		pr.Out.URL.RawQuery = upstream.RawQuery
		if q := pr.In.URL.RawQuery; q != "" {
			if pr.Out.URL.RawQuery != "" {
				pr.Out.URL.RawQuery += "&"
			}
			pr.Out.URL.RawQuery += q
		}
		// Request trailers are client-controlled headers that arrive
		// after the body: they would bypass everything below.
		pr.Out.Trailer = nil
		pr.SetXForwarded()
		pr.Out.Header.Del("Authorization")
		for name := range pr.Out.Header {
			if k := headerKey(name); k == userKey || overrideHeaders[k] {
				delete(pr.Out.Header, name)
			}
		}
		// The middleware lets only authenticated requests get here.
		id, _ := asymjwt.FromContext(pr.In.Context())
		pr.Out.Header.Set(userHeader, id.Username)
	}
	if c.Metrics != nil {
		c.Metrics.instrument(rp)
	}
	authenticated := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := asymjwt.FromContext(r.Context())
		// Defense in depth: the key store should never yield such a name.
		if reason := unsafeHeaderValue(id.Username); reason != "" {
			logger.LogAttrs(r.Context(), slog.LevelWarn, errUnsafeUsername.Error(),
				slog.String("user", id.Username), slog.String("reason", reason))
			v.WriteError(w, errUnsafeUsername, false)
			return
		}
		setAccessUser(r.Context(), id.Username)
		rp.ServeHTTP(w, r)
	}))
	return withAccessLog(logger, healthPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status, reason := upgradeRefusal(r, c.AllowWebSocket); status != 0 {
			// Nothing may reach the upstream that was not verified: after
			// a switch, the bytes that follow are not (see upgradeRefusal).
			logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt proxy: "+reason,
				slog.String("method", r.Method), slog.Any("upgrade", r.Header.Values("Upgrade")))
			http.Error(w, http.StatusText(status), status)
			return
		}
		if err := queryError(r.URL.RawQuery); err != nil {
			// ";" separators, bad escapes, too many parameters: net/http,
			// ReverseProxy and the upstream may each read such a query
			// differently from the verifier. Refused before authentication.
			logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt proxy: malformed query refused", slog.String("err", err.Error()))
			http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
			return
		}
		authenticated.ServeHTTP(w, r)
	}))
}

// UpstreamTransport is http.DefaultTransport's configuration with room
// for 1,024 idle connections to the upstream. DefaultTransport keeps 2 per
// host: under concurrent load most requests would then open a connection
// of their own, which cost the proxy process about 47 µs per request at
// concurrency 32 (BENCHMARKS.md, "Proxy load").
func UpstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 1024
	return t
}

// newReverseProxy is the ReverseProxy the forwarding servers (proxy,
// sign-proxy) start from: an upstream that fails is logged as name's and
// answered 502 with the status text only; net/http's own errors go to
// logger; response copy buffers are pooled.
func newReverseProxy(name string, logger *slog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logger.LogAttrs(r.Context(), slog.LevelError, name+": upstream failed",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("err", err.Error()))
			http.Error(w, http.StatusText(http.StatusBadGateway), http.StatusBadGateway)
		},
		ErrorLog:   slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BufferPool: &bufferPool{},
	}
}

// bufferPool reuses the buffers responses are copied through, which
// ReverseProxy would otherwise allocate, 32 KiB each, for every request.
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }
