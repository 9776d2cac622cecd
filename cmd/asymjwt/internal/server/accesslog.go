package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"
)

type accessKey struct{}

// accessEntry collects what the access log line reports.
type accessEntry struct {
	user string
}

// setAccessUser records the authenticated username for the access log
// line of the request ctx belongs to.
func setAccessUser(ctx context.Context, user string) {
	if entry, ok := ctx.Value(accessKey{}).(*accessEntry); ok {
		entry.user = user
	}
}

// withAccessLog answers GET and HEAD of healthPath (when not empty) with
// 200 "ok" without credentials, passes every other request to next, and
// logs one "request" line per request at level INFO.
func withAccessLog(logger *slog.Logger, healthPath string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		entry := &accessEntry{}
		rec := &recorder{ResponseWriter: w}
		if healthPath != "" && r.URL.Path == healthPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			rec.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rec.Header().Set("Cache-Control", "no-store")
			rec.WriteHeader(http.StatusOK)
			if r.Method == http.MethodGet {
				io.WriteString(rec, "ok\n")
			}
		} else {
			next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), accessKey{}, entry)))
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.EscapedPath()),
			slog.Int("status", status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("user", entry.user),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// recorder notes the status and size of a response for the access log.
// Unwrap lets http.ResponseController reach the connection (flushes for
// streaming, hijacking for upgrades).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	// 1xx responses are interim, except 101 Switching Protocols (an upgrade).
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
