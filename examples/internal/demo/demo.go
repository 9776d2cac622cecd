// Package demo is what the framework examples share: the client service
// "billing" with its key, the "orders" server's verifier, and the calls
// that show the protocol's outcomes. Each example adds only its
// framework's routes and middleware.
package demo

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// Order is the body POST /orders takes.
type Order struct {
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

// Setup makes the client's key pair, registers only its public key with
// the server, and returns the server's verifier — tokens must name this
// service and be bound to their request and body — and the client's
// signer, which binds them so.
func Setup() (*asymjwt.Verifier, *asymjwt.Signer, error) {
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		return nil, nil, err
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("billing", key.Public()); err != nil {
		return nil, nil, err
	}
	verifier, err := asymjwt.NewVerifier(keys,
		asymjwt.WithAudience("orders"), asymjwt.RequireAudience(),
		asymjwt.RequireRequestBinding(), asymjwt.RequireBodyHash())
	if err != nil {
		return nil, nil, err
	}
	signer, err := asymjwt.NewSigner("billing", key,
		asymjwt.WithAudience("orders"), asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())
	if err != nil {
		return nil, nil, err
	}
	return verifier, signer, nil
}

// Call runs the client's calls against the server at base — GET
// /orders/42 and POST /orders signed by the Transport, /healthz (a skipped
// route) and GET /orders/42 unsigned — prints each outcome, and fails if
// one differs from what the protocol promises.
func Call(out io.Writer, base string, signer *asymjwt.Signer) error {
	signed := &http.Client{Transport: signer.Transport(nil), Timeout: 10 * time.Second}
	unsigned := &http.Client{Timeout: 10 * time.Second}
	failed := 0
	for _, c := range []struct {
		label, method, path, body string
		client                    *http.Client
		want                      int
	}{
		{"signed", http.MethodGet, "/orders/42", "", signed, http.StatusOK},
		{"signed", http.MethodPost, "/orders", `{"item":"widget","qty":3}`, signed, http.StatusCreated},
		{"unsigned, skipped route", http.MethodGet, "/healthz", "", unsigned, http.StatusOK},
		{"unsigned", http.MethodGet, "/orders/42", "", unsigned, http.StatusUnauthorized},
	} {
		req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		verdict := "as expected"
		if resp.StatusCode != c.want {
			verdict = fmt.Sprintf("UNEXPECTED (want %d)", c.want)
			failed++
		}
		fmt.Fprintf(out, "%s %s (%s)\n  -> %s: %s\n", c.method, c.path, c.label, resp.Status, verdict)
		fmt.Fprintf(out, "     %s\n", strings.TrimSpace(string(body)))
		if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
			fmt.Fprintf(out, "     WWW-Authenticate: %s\n", ch)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d outcomes differ from the protocol", failed)
	}
	return nil
}

// CheckOutput is the examples' shared test: run succeeds and its output
// shows the caller, the body binding and the refusal.
func CheckOutput(run func(io.Writer) error) error {
	var out strings.Builder
	if err := run(&out); err != nil {
		return fmt.Errorf("%v\n%s", err, out.String())
	}
	for _, want := range []string{`"caller":"billing"`, `"body_bound":true`, "401 Unauthorized", `WWW-Authenticate: JWT realm=`} {
		if !strings.Contains(out.String(), want) {
			return fmt.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	return nil
}
