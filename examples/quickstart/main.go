// Command quickstart runs the asymjwt protocol end to end on loopback: a
// real HTTP server holding only public keys, and clients signing with
// their private keys. It prints each outcome and exits non-zero if any
// differs from what the protocol promises.
//
//	make demo   # or: cd examples && go run ./quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	// Each client service makes its key pair; only public keys go to the server.
	aliceKey, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		return err
	}
	bobKey, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		return err
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("alice", aliceKey.Public()); err != nil {
		return err
	}
	if _, err := keys.Add("bob", bobKey.Public()); err != nil {
		return err
	}

	// The server: every token must be bound to its request (qsh).
	reasons := &lastReason{}
	verifier, err := asymjwt.NewVerifier(keys,
		asymjwt.RequireRequestBinding(),
		asymjwt.WithObserver(reasons.observe),
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := asymjwt.FromContext(r.Context())
		fmt.Fprintf(w, "order %s for %s", r.PathValue("id"), id.Username)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: verifier.Middleware(mux), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "server listening on %s (public keys of alice and bob)\n\n", base)

	alice, err := asymjwt.NewSigner("alice", aliceKey, asymjwt.WithRequestBinding())
	if err != nil {
		return err
	}
	// Mallory holds bob's key but claims to be alice.
	mallory, err := asymjwt.NewSigner("alice", bobKey, asymjwt.WithRequestBinding())
	if err != nil {
		return err
	}

	signed := func(s *asymjwt.Signer, path string) *http.Request {
		r, _ := http.NewRequest("GET", base+path, nil)
		if err := s.SignRequest(r); err != nil {
			panic(err)
		}
		return r
	}
	first := signed(alice, "/orders/42")
	replayed, _ := http.NewRequest("GET", base+"/orders/42", nil)
	replayed.Header.Set("Authorization", first.Header.Get("Authorization"))
	tampered := signed(alice, "/orders/42")
	tampered.URL.Path = "/orders/43"
	bare, _ := http.NewRequest("GET", base+"/orders/42", nil)

	steps := []struct {
		label string
		req   *http.Request
		want  int
	}{
		{"(a) alice sends a signed request", first, http.StatusOK},
		{"(b) the same token is replayed", replayed, http.StatusUnauthorized},
		{"(c) a token for /orders/42 is sent to /orders/43", tampered, http.StatusUnauthorized},
		{"(d) a request with no credentials", bare, http.StatusUnauthorized},
		{"(e) bob's key signs a token claiming to be alice", signed(mallory, "/orders/42"), http.StatusUnauthorized},
	}
	failed := 0
	for _, st := range steps {
		reasons.reset()
		resp, err := http.DefaultClient.Do(st.req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		verdict := "as expected"
		if resp.StatusCode != st.want {
			verdict = fmt.Sprintf("UNEXPECTED (want %d)", st.want)
			failed++
		}
		fmt.Fprintf(out, "%s\n  -> %d %s: %s\n", st.label, resp.StatusCode, http.StatusText(resp.StatusCode), verdict)
		if resp.StatusCode == http.StatusOK {
			fmt.Fprintf(out, "     response: %s\n", body)
		} else {
			fmt.Fprintf(out, "     server log: %s\n", reasons.get())
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d outcomes differ from the protocol", failed, len(steps))
	}
	fmt.Fprintln(out, "\nall five outcomes as the protocol promises")
	return nil
}

// lastReason keeps the last refusal reason the verifier reported, to show
// what the server logged while the client saw only "401".
type lastReason struct {
	mu  sync.Mutex
	err error
}

func (l *lastReason) observe(_ context.Context, o asymjwt.Outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = o.Err
}

func (l *lastReason) reset() { l.observe(context.Background(), asymjwt.Outcome{}) }

func (l *lastReason) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		return "-"
	}
	return l.err.Error()
}
