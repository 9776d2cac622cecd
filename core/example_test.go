package asymjwt_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// The whole protocol in one place: a client signs, a server verifies, and
// the same token cannot be used twice.
func Example() {
	// Client side: a private key that never leaves the client.
	key, _ := asymjwt.GenerateKey("ed25519")
	signer, _ := asymjwt.NewSigner("billing-service", key)

	// Server side: only the public key, registered under the username.
	keys := asymjwt.NewMemoryKeyStore()
	keys.Add("billing-service", key.Public())
	verifier, _ := asymjwt.NewVerifier(keys, asymjwt.WithLogger(slog.New(slog.DiscardHandler)))

	token, _ := signer.Token()
	id, err := verifier.Verify(context.Background(), token)
	fmt.Println(id.Username, err)

	_, err = verifier.Verify(context.Background(), token)
	fmt.Println(err)
	// Output:
	// billing-service <nil>
	// asymjwt: token replayed
}

// A server behind the middleware and a client whose Transport signs every
// request, bound to its method, path, query and body.
func ExampleVerifier_Middleware() {
	key, _ := asymjwt.GenerateKey("p256")
	keys := asymjwt.NewMemoryKeyStore()
	keys.Add("reports", key.Public())
	verifier, _ := asymjwt.NewVerifier(keys,
		asymjwt.WithAudience("orders"),
		asymjwt.RequireAudience(),
		asymjwt.RequireRequestBinding(),
		asymjwt.RequireBodyHash(),
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)))

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := asymjwt.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", id.Username)
	})
	srv := httptest.NewServer(verifier.Middleware(api))
	defer srv.Close()

	signer, _ := asymjwt.NewSigner("reports", key,
		asymjwt.WithAudience("orders"), asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())
	client := &http.Client{Transport: signer.Transport(nil)}

	resp, _ := client.Get(srv.URL + "/orders?status=open")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	resp, _ = http.Get(srv.URL + "/orders") // no credentials
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	// Output:
	// 200 hello reports
	// 401 JWT realm="asymjwt", error="invalid_token"
}

// The kid of a key is the SHA-256 of its PEM text, as the Python library
// computes it.
func ExampleFingerprint() {
	pemText, _ := os.ReadFile("testdata/python/rsa2048.pub.pem")
	pub, _ := asymjwt.ParsePublicKey(pemText)
	kid, _ := asymjwt.Fingerprint(pub)
	fmt.Println(kid)
	// Output: 84f73193127f644eb99de7f43596a772a07b604b824af1c4b3dcc258afc391cd
}

// The qsh claim binds a token to a request; parameter order does not
// matter, the method, path and values do.
func ExampleQueryStringHash() {
	a, _ := asymjwt.CanonicalRequest("get", "/orders/", "status=open&limit=10", "")
	b, _ := asymjwt.QueryStringHash("GET", "/orders", "limit=10&status=open", "")
	c, _ := asymjwt.QueryStringHash("GET", "/orders", "limit=10&status=closed", "")
	fmt.Println(a)
	fmt.Println(len(b), b == c)
	// Output:
	// GET&/orders&limit=10&status=open
	// 64 false
}

// Optional mode lets anonymous requests through, but never downgrades a
// request whose credentials fail.
func ExampleOptional() {
	keys := asymjwt.NewMemoryKeyStore()
	verifier, _ := asymjwt.NewVerifier(keys, asymjwt.WithLogger(slog.New(slog.DiscardHandler)))
	h := verifier.MiddlewareWith(asymjwt.Optional())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := asymjwt.FromContext(r.Context()); !ok {
			io.WriteString(w, "anonymous")
		}
	}))
	for _, auth := range []string{"", "JWT not.a.token"} {
		r := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 anonymous
	// 401 Unauthorized
}
