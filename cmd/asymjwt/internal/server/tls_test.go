package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
)

// pair is a self-signed certificate and its key, PEM.
func pair(t *testing.T, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func put(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certA, keyA := pair(t, "a.test")
	certB, keyB := pair(t, "b.test")
	certC, keyC := pair(t, "c.test")
	put(t, certFile, certA)
	put(t, keyFile, keyA)
	var logs bytes.Buffer
	const interval = 20 * time.Millisecond
	r, err := server.NewCertReloader(certFile, keyFile, interval, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	name := func() string {
		t.Helper()
		c, err := r.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.DNSNames[0]
	}
	// waitFor polls until the certificate served is want.
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for name() != want {
			if time.Now().After(deadline) {
				t.Fatalf("still serving %s, want %s\n%s", name(), want, &logs)
			}
			time.Sleep(interval / 2)
		}
	}
	if got := name(); got != "a.test" {
		t.Fatalf("serving %s, want a.test", got)
	}

	put(t, certFile, certB)
	put(t, keyFile, keyB)
	waitFor("b.test")
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("reload not logged:\n%s", &logs)
	}

	// The certificate rotated first: the pair does not match, B stays,
	// the error is logged once however many handshakes see it.
	put(t, certFile, certC)
	time.Sleep(3 * interval)
	for range 5 {
		if got := name(); got != "b.test" {
			t.Fatalf("mismatched pair: serving %s, want b.test", got)
		}
		time.Sleep(interval)
	}
	if n := strings.Count(logs.String(), "TLS certificate not reloaded"); n != 1 {
		t.Errorf("mismatched pair logged %d times, want 1:\n%s", n, &logs)
	}
	// Then the key: C loads.
	put(t, keyFile, keyC)
	waitFor("c.test")

	// A file gone: C stays.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * interval)
	if got := name(); got != "c.test" {
		t.Fatalf("key file gone: serving %s, want c.test", got)
	}

	if _, err := server.NewCertReloader(certFile, keyFile, 0, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("NewCertReloader without the key file: no error")
	}
	put(t, keyFile, keyA)
	if _, err := server.NewCertReloader(certFile, keyFile, 0, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("NewCertReloader with a key of another certificate: no error")
	}
}

// A pair renamed over the old one is new even when it has the old files'
// sizes and modification times (cp -p, tar, or writes within one tick of
// the file system's clock).
func TestCertReloaderSeesRenameWithSameSizeAndTime(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certA, keyA := pair(t, "a.test")
	certB, keyB := pair(t, "b.test")
	for len(certB) != len(certA) || len(keyB) != len(keyA) { // ECDSA signatures vary by a byte or two
		certB, keyB = pair(t, "b.test")
	}
	put(t, certFile, certA)
	put(t, keyFile, keyA)
	const interval = 10 * time.Millisecond
	r, err := server.NewCertReloader(certFile, keyFile, interval, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stamp := func(path string) time.Time {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime()
	}
	certTime, keyTime := stamp(certFile), stamp(keyFile)
	for _, f := range []struct {
		path string
		data []byte
		mod  time.Time
	}{{certFile, certB, certTime}, {keyFile, keyB, keyTime}} {
		if err := os.WriteFile(f.path+".tmp", f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f.path+".tmp", f.mod, f.mod); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".tmp", f.path); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := r.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Leaf.DNSNames[0] == "b.test" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %s after the pair was renamed over", c.Leaf.DNSNames[0])
		}
		time.Sleep(interval)
	}
}
