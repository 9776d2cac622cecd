package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// SignProxyConfig configures NewSignProxy.
type SignProxyConfig struct {
	// Signer returns the signer for each request (SignerFile.Signer
	// follows key rotation). Its options decide the binding: with
	// WithRequestBinding tokens carry qsh, with WithBodyHash also bh
	// (bodies are then read, up to MaxBody, before anything is sent).
	Signer func() *asymjwt.Signer
	// Upstream receives every request; its path and query prefix theirs.
	Upstream *url.URL
	// Transport sends to the upstream (http.DefaultTransport when nil);
	// it must verify the upstream's TLS certificate.
	Transport http.RoundTripper
	// MaxBody bounds, in bytes, a body read to hash it (bh); a larger one
	// gets 413 and is not sent.
	MaxBody int64
	// HealthPath, when not empty, is answered with 200 without going
	// upstream.
	HealthPath string
	// Logger receives the access log and failures.
	Logger *slog.Logger
	// AllowWebSocket lets WebSocket handshakes through (signed); every
	// other upgrade, and CONNECT, is refused.
	AllowWebSocket bool
	// AnyHost accepts requests whatever their Host header. Without it
	// (the sign-proxy listens on loopback), the Host must name loopback:
	// "localhost" or a loopback IP address, with any port.
	AnyHost bool
}

// NewSignProxy returns the signing proxy for local clients in any
// language: each request goes to c.Upstream with a fresh token in its
// Authorization header (one the client sent is dropped, never
// forwarded), bound as c.Signer's options say. Bodies are streamed
// unless hashed; a hashed body larger than c.MaxBody gets 413. A failed
// idempotent request (GET, HEAD, OPTIONS, TRACE) whose body can be sent
// again is retried once, with a new token. Redirects are passed back to
// the client, never followed; a Location on the upstream's origin is
// made relative, so that the client comes back through the proxy and
// the next hop is signed anew, while one elsewhere is left as it is (the
// client goes there without a token). A query that does not parse
// cleanly gets 400; protocol upgrades 400 (CONNECT 405) unless
// c.AllowWebSocket lets a WebSocket handshake through; an unreachable
// upstream 502.
func NewSignProxy(c SignProxyConfig) http.Handler {
	upstream, logger := c.Upstream, c.Logger
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	rp := newReverseProxy("asymjwt sign-proxy", logger)
	rp.Rewrite = func(pr *httputil.ProxyRequest) {
		pr.SetURL(upstream)
		// The client's credentials are never forwarded: the transport
		// (core's SignRequest), after every other change, replaces every
		// Authorization value with the token.
	}
	rp.Transport = currentSigner{signer: c.Signer, base: base, logger: logger}
	rp.ModifyResponse = func(resp *http.Response) error { relocate(resp, upstream); return nil }
	return withAccessLog(logger, c.HealthPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status, reason := upgradeRefusal(r, c.AllowWebSocket); status != 0 {
			logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt sign-proxy: "+reason, slog.String("method", r.Method))
			http.Error(w, http.StatusText(status), status)
			return
		}
		if reason := browserRefusal(r, c.AnyHost); reason != "" {
			logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt sign-proxy: "+reason,
				slog.String("method", r.Method), slog.String("host", r.Host), slog.String("origin", r.Header.Get("Origin")))
			http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
			return
		}
		if err := queryError(r.URL.RawQuery); err != nil {
			// ReverseProxy would re-encode it: what is signed and sent
			// would not be what the client asked for.
			logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt sign-proxy: malformed query refused", slog.String("err", err.Error()))
			http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
			return
		}
		if c.Signer().HashesBody() && r.Body != nil && r.Body != http.NoBody {
			if !bufferForHash(w, r, c.MaxBody, logger) {
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
}

// browserRefusal says why r, which the sign-proxy would sign as its
// user, may come from a web page rather than a local client, or returns
// "". A browser on the machine reaches a loopback listener too: any page
// it shows could have requests signed (cross-site request forgery), and,
// through a domain that resolves to 127.0.0.1 (DNS rebinding), read the
// answers. So a request is refused (403) when it carries what only
// browsers send, Origin or Sec-Fetch-Site (Fetch Metadata), and, unless
// anyHost, when its Host does not name loopback, as a rebinding page's
// Host never does. curl, urllib, Node's fetch and other HTTP libraries
// send neither header.
func browserRefusal(r *http.Request, anyHost bool) string {
	switch {
	case r.Header.Get("Origin") != "":
		return "request from a web page (Origin header) refused: browsers are not sign-proxy clients"
	case r.Header.Get("Sec-Fetch-Site") != "":
		return "request from a browser (Sec-Fetch-Site header) refused: browsers are not sign-proxy clients"
	case !anyHost && !LoopbackHost(r.Host):
		return "Host does not name loopback (DNS rebinding?) refused; --insecure-listen-any accepts any Host"
	}
	return ""
}

// LoopbackHost reports whether hostport (host, or host:port: a Host
// header, a listen address) names only loopback: "localhost" or a
// loopback IP address such as 127.0.0.1 or [::1]. An empty host (":8080",
// every interface) does not.
func LoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bufferForHash reads r's body, up to limit bytes, so that it can be
// hashed and sent (again, on a retry); it answers 413 or 400 and returns
// false when it cannot.
func bufferForHash(w http.ResponseWriter, r *http.Request, limit int64, logger *slog.Logger) bool {
	if r.ContentLength > limit {
		logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt sign-proxy: body too large to hash", slog.Int64("content_length", r.ContentLength), slog.Int64("limit", limit))
		http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
		return false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt sign-proxy: body too large to hash", slog.Int64("limit", limit))
		http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
		return false
	case err != nil:
		logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt sign-proxy: reading the body failed", slog.String("err", err.Error()))
		http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	r.ContentLength = int64(len(data))
	r.TransferEncoding = nil
	return true
}

// currentSigner signs through core's Signer.Transport (a fresh token
// for every attempt, retries included) with the key loaded last, so that
// a replaced key file takes effect on the next request. A retry is
// logged, with the failure of the attempt before it.
type currentSigner struct {
	signer func() *asymjwt.Signer
	base   http.RoundTripper
	logger *slog.Logger
}

func (t currentSigner) RoundTrip(req *http.Request) (*http.Response, error) {
	// Signer.Transport makes its attempts one after the other.
	var attempts int
	var last error
	base := roundTripFunc(func(out *http.Request) (*http.Response, error) {
		if attempts++; attempts > 1 && last != nil {
			t.logger.LogAttrs(req.Context(), slog.LevelWarn, "asymjwt sign-proxy: retrying with a new token", slog.String("err", last.Error()))
		}
		resp, err := t.base.RoundTrip(out)
		last = err
		return resp, err
	})
	return t.signer().Transport(base).RoundTrip(req)
}

// relocate makes a Location on the upstream's origin (and under its
// path) relative to the sign-proxy, so that the client's next hop comes
// back through it and is signed for itself.
func relocate(resp *http.Response, upstream *url.URL) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return
	}
	u, err := url.Parse(loc)
	if err != nil || u.Opaque != "" {
		return
	}
	if u.IsAbs() || u.Host != "" {
		if (u.Scheme != "" && u.Scheme != upstream.Scheme) || !strings.EqualFold(u.Host, upstream.Host) || u.User != nil {
			return // elsewhere: passed back as it is, never followed
		}
	} else if !strings.HasPrefix(u.Path, "/") {
		return // relative to the request's path: right as it is
	}
	p := u.EscapedPath()
	if prefix := strings.TrimSuffix(upstream.EscapedPath(), "/"); prefix != "" {
		if p != prefix && !strings.HasPrefix(p, prefix+"/") {
			return // outside the upstream's base: the proxy cannot reach it
		}
		p = strings.TrimPrefix(p, prefix)
	}
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		p += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		p += "#" + u.EscapedFragment()
	}
	resp.Header.Set("Location", p)
}

// SignerFile is a Signer made from a private key file, and made again
// when the file changes (checked at most once per CheckInterval, on the
// request path): keys rotate without a restart. A file that no longer
// loads leaves the last good signer in use, with an error logged.
type SignerFile struct {
	path   string
	build  func(keyFile []byte) (*asymjwt.Signer, error)
	logger *slog.Logger

	cur     atomic.Pointer[asymjwt.Signer]
	checked atomic.Int64 // unix nanoseconds of the last check
	mu      sync.Mutex   // one check at a time
	info    os.FileInfo  // of the file last read
}

// CheckInterval is how often a SignerFile looks at its file.
const CheckInterval = time.Second

// maxKeyFile bounds the key file read (an RSA-16384 PEM is ~13 KiB).
const maxKeyFile = 1 << 20

// OpenSignerFile reads path and builds its first Signer with build, which
// gets the file's bytes (passphrase, username and options are its
// business); it fails when that does.
func OpenSignerFile(path string, build func(keyFile []byte) (*asymjwt.Signer, error), logger *slog.Logger) (*SignerFile, error) {
	f := &SignerFile{path: path, build: build, logger: logger}
	info, s, err := f.load()
	if err != nil {
		return nil, err
	}
	f.info = info
	f.cur.Store(s)
	f.checked.Store(time.Now().UnixNano())
	return f, nil
}

func (f *SignerFile) load() (os.FileInfo, *asymjwt.Signer, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return nil, nil, err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(file, maxKeyFile+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxKeyFile {
		return nil, nil, fmt.Errorf("%s: more than %d bytes", f.path, maxKeyFile)
	}
	s, err := f.build(data)
	if err != nil {
		return info, nil, err
	}
	return info, s, nil
}

// Signer returns the current signer, after reloading the file if it
// changed (another file renamed over it, or its size or time).
func (f *SignerFile) Signer() *asymjwt.Signer {
	now := time.Now().UnixNano()
	if now-f.checked.Load() < int64(CheckInterval) || !f.mu.TryLock() {
		return f.cur.Load()
	}
	defer f.mu.Unlock()
	f.checked.Store(now)
	info, err := os.Stat(f.path)
	if err != nil {
		f.logger.Error("asymjwt sign-proxy: key file unreadable; signing with the last key loaded", "path", f.path, "err", err)
		return f.cur.Load()
	}
	if sameVersion(info, f.info) {
		return f.cur.Load()
	}
	info, s, err := f.load()
	if info != nil {
		f.info = info // a bad file is reported once, not at every check
	}
	if err != nil {
		f.logger.Error("asymjwt sign-proxy: key file changed but does not load; signing with the last key loaded", "path", f.path, "err", err)
		return f.cur.Load()
	}
	f.cur.Store(s)
	f.logger.Info("asymjwt sign-proxy: key reloaded", "path", f.path, "kid", s.KeyID())
	return s
}
