package cli_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// replaceFile writes data to path by rename, as certificate tools do.
func replaceFile(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestProxyTLSRotation rotates the certificate and key under traffic: the
// connections open keep working with the old certificate, a request in
// flight completes, new handshakes get the new certificate.
func TestProxyTLSRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldCert, oldKey := selfSignedCert(t)
	newCert, newKey := selfSignedCert(t)
	certFile := writeFile(t, dir, "cert.pem", oldCert, 0o644)
	keyFile := writeFile(t, dir, "key.pem", oldKey, 0o600)

	inFlight, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inFlight)
			<-release
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	p := startProxy(t, "--upstream", up.URL, "--keys", keysDir(t), "--tls-cert", certFile, "--tls-key", keyFile)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(oldCert)
	pool.AppendCertsFromPEM(newCert)
	newTransport := func() *http.Transport {
		return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	der := func(certPEM []byte) string {
		b, _ := pem.Decode(certPEM)
		return string(b.Bytes)
	}
	// served returns the certificate the connection of a GET /healthz used.
	served := func(client *http.Client) (string, error) {
		resp, err := client.Get("https://" + p.addr + "/healthz")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("GET /healthz: %d", resp.StatusCode)
		}
		return string(resp.TLS.PeerCertificates[0].Raw), nil
	}

	kept := &http.Client{Transport: newTransport()} // one connection, kept alive
	defer kept.CloseIdleConnections()
	if got, err := served(kept); err != nil || got != der(oldCert) {
		t.Fatalf("before rotation: err %v, old certificate %v", err, got == der(oldCert))
	}
	// A request in flight through the proxy during the rotation.
	billing := signer(t, "billing", "keys/ed25519.pem")
	tok, _ := billing.Token()
	slowStatus := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", "https://"+p.addr+"/slow", nil)
		req.Header.Set("Authorization", billing.AuthorizationValue(tok))
		resp, err := (&http.Client{Transport: newTransport()}).Do(req)
		if err != nil {
			t.Errorf("request in flight: %v", err)
			slowStatus <- 0
			return
		}
		resp.Body.Close()
		slowStatus <- resp.StatusCode
	}()
	<-inFlight

	// Traffic on the kept connection while the files change.
	var failures, requests atomic.Int64
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	traffic.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := served(kept)
			requests.Add(1)
			if err != nil || got != der(oldCert) {
				failures.Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	})

	replaceFile(t, filepath.Join(dir, "cert.pem"), newCert, 0o644)
	replaceFile(t, filepath.Join(dir, "key.pem"), newKey, 0o600)
	deadline := time.Now().Add(10 * time.Second)
	for {
		fresh := &http.Client{Transport: newTransport()}
		got, err := served(fresh)
		fresh.CloseIdleConnections()
		if err != nil {
			t.Fatalf("new connection during rotation: %v", err)
		}
		if got == der(newCert) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new handshakes still get the old certificate:\n%s", p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	traffic.Wait()
	if n := failures.Load(); n != 0 || requests.Load() == 0 {
		t.Errorf("kept connection: %d of %d requests failed or changed certificate", n, requests.Load())
	}
	releaseOnce.Do(func() { close(release) })
	if status := <-slowStatus; status != 200 {
		t.Errorf("request in flight during the rotation: status %d", status)
	}
}
