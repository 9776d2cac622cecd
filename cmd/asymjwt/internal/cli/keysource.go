package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

// openKeysOnce loads an authorized-keys directory for one command run:
// no polling, no log; each file that cannot be used is passed to warn.
func openKeysOnce(dir string, warn func(error)) (*asymjwt.AuthorizedKeysDir, error) {
	return asymjwt.OpenAuthorizedKeysDir(dir,
		asymjwt.WithAuthorizedKeysPollInterval(0),
		asymjwt.WithAuthorizedKeysLogger(slog.New(slog.DiscardHandler)),
		asymjwt.WithAuthorizedKeysErrorHandler(warn))
}

// warnTo returns a warn function that prints to stderr.
func warnTo(e *env) func(error) {
	return func(err error) { fmt.Fprintf(e.stderr, "warning: %v\n", err) }
}

// httpTransport is server.UpstreamTransport (http.DefaultTransport with
// room for idle connections), trusting the CA certificates in caFile
// instead of the system's when caFile is set.
func httpTransport(caFile string) (*http.Transport, error) {
	t := server.UpstreamTransport()
	if caFile == "" {
		return t, nil
	}
	data, err := readFileLimited(caFile, maxInput)
	if err != nil {
		return nil, fmt.Errorf("--cacert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--cacert: no PEM certificate in %s", caFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool}
	return t, nil
}
