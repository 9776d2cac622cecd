package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Options configure Serve.
type Options struct {
	// Name prefixes the log lines ("asymjwt proxy").
	Name string
	// TLS, when set, serves HTTPS with it.
	TLS *tls.Config
	// ShutdownTimeout bounds the wait for requests in flight after
	// SIGINT, SIGTERM or the end of ctx.
	ShutdownTimeout time.Duration
	// Logger receives the server's own messages and net/http's errors.
	Logger *slog.Logger
	// Attrs are logged with the "listening" line.
	Attrs []any
}

// Serve serves h on ln until ctx ends or the process gets SIGINT or
// SIGTERM, then stops accepting connections and lets requests in flight
// finish for at most o.ShutdownTimeout; a second signal ends at once.
// Headers must arrive within 10 s of a connection's start; idle
// connections are closed after 2 min.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o Options) error {
	logger := o.Logger
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         o.TLS,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() {
		if o.TLS != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	logger.Info(o.Name+": listening", append([]any{"addr", ln.Addr().String(), "tls", o.TLS != nil}, o.Attrs...)...)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills at once
	logger.Info(o.Name+": shutting down", "timeout", o.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info(o.Name + ": stopped")
	return nil
}

// NewLogger returns a slog logger writing to w in format "text" or
// "json" at level and above.
func NewLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}
