package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCertCheckInterval is how often, at most, a CertReloader looks
// at its files for changes.
const DefaultCertCheckInterval = time.Second

// CertReloader serves a TLS certificate and key read from two PEM files,
// read again when either changes, so certificates rotate without a
// restart and without dropping connections: a connection keeps the
// certificate it was established with, each new handshake gets the pair
// in use at that moment.
//
// The files are looked at from the handshakes themselves, at most once per
// interval (two stats: file identity, size and modification time, links
// followed, so an atomic rename and a Kubernetes Secret volume's symlink
// swap are seen); no goroutine, no file watcher. A pair that does not load (a
// half-written file, a key of another certificate) is logged and the
// last good pair stays in use; it is tried again when either file
// changes, so rewriting the certificate first and the key second works.
type CertReloader struct {
	certFile, keyFile string
	interval          time.Duration
	logger            *slog.Logger

	cert atomic.Pointer[tls.Certificate]

	mu        sync.Mutex // guards below; held while checking, not while serving
	nextCheck time.Time
	loaded    [2]fileStamp // of the pair in use
	failed    [2]fileStamp // of the last pair that did not load
	lastErr   string       // last error logged
}

// fileStamp is what tells one version of a file from another
// (sameVersion); the zero fileStamp matches none.
type fileStamp struct{ info os.FileInfo }

func (a fileStamp) same(b fileStamp) bool {
	return a.info != nil && b.info != nil && sameVersion(a.info, b.info)
}

func sameStamps(a, b [2]fileStamp) bool { return a[0].same(b[0]) && a[1].same(b[1]) }

// sameVersion reports whether a and b, two stats of one path, saw the
// same version of the file: the same file (os.SameFile: device and
// inode, so a file renamed over it is new even with the old size and a
// modification time within the file system's clock tick, or preserved
// by cp -p), size and modification time (a file rewritten in place).
// It is the one change rule of the files the servers read again (TLS
// pair, sign-proxy key).
func sameVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// NewCertReloader loads certFile and keyFile (PEM, as
// tls.LoadX509KeyPair reads them) and returns a CertReloader that looks
// at them at most every interval (DefaultCertCheckInterval when <= 0).
// It fails when the pair does not load now.
func NewCertReloader(certFile, keyFile string, interval time.Duration, logger *slog.Logger) (*CertReloader, error) {
	if interval <= 0 {
		interval = DefaultCertCheckInterval
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile, interval: interval, logger: logger}
	stamps, err := r.stamps()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert.Store(&cert)
	r.loaded = stamps
	r.nextCheck = time.Now().Add(interval)
	return r, nil
}

// TLSConfig returns a server configuration (TLS 1.2 and up) whose
// certificate comes from r.
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12}
}

// GetCertificate implements tls.Config.GetCertificate: the pair in use,
// after reading the files again if they changed.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.maybeReload(time.Now())
	return r.cert.Load(), nil
}

func (r *CertReloader) maybeReload(now time.Time) {
	if !r.mu.TryLock() {
		return // another handshake is checking: use the pair in use
	}
	defer r.mu.Unlock()
	if now.Before(r.nextCheck) {
		return
	}
	r.nextCheck = now.Add(r.interval)
	stamps, err := r.stamps()
	if err == nil {
		if sameStamps(stamps, r.loaded) || sameStamps(stamps, r.failed) {
			return
		}
		var cert tls.Certificate
		if cert, err = tls.LoadX509KeyPair(r.certFile, r.keyFile); err == nil {
			r.cert.Store(&cert)
			r.loaded, r.failed, r.lastErr = stamps, [2]fileStamp{}, ""
			attrs := []slog.Attr{slog.String("cert", r.certFile)}
			if cert.Leaf != nil { // nil only under GODEBUG=x509keypairleaf=0
				attrs = append(attrs, slog.Time("not_after", cert.Leaf.NotAfter))
			}
			r.logger.LogAttrs(context.Background(), slog.LevelInfo, "TLS certificate reloaded", attrs...)
			return
		}
		r.failed = stamps // tried again when either file changes
		r.lastErr = ""    // a new version: report it even with the same error
	}
	// A file that cannot be stat'ed is tried at every check; reported
	// once for as long as the error stays the same.
	if msg := err.Error(); msg != r.lastErr {
		r.lastErr = msg
		r.logger.LogAttrs(context.Background(), slog.LevelError, "TLS certificate not reloaded; the one in use stays",
			slog.String("cert", r.certFile), slog.String("key", r.keyFile), slog.String("err", msg))
	}
}

func (r *CertReloader) stamps() ([2]fileStamp, error) {
	var out [2]fileStamp
	for i, name := range []string{r.certFile, r.keyFile} {
		info, err := os.Stat(name)
		if err != nil {
			return out, err
		}
		out[i] = fileStamp{info}
	}
	return out, nil
}
