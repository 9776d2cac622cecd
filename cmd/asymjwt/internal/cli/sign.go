package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func runSign(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "sign", help{
		usage: "asymjwt sign --key PATH --user NAME [--aud A]... [--method M] [--url U [--body FILE] [--bind request]] [--header]",
		text: `Prints a fresh token for NAME signed with the private key at PATH. A token
is good for one request within ±20 s of its making.

With --url the token is bound to one request: its method (--method,
default GET, or POST with --body), path and query (qsh), and its body
(bh: the bytes of --body, empty without it). Only the path and query of
--url count; a full URL or just "/path?query" will do. Send that body
with curl --data-binary @FILE: curl -d @FILE strips newlines, and the
server then hashes other bytes. "asymjwt forward-auth" refuses tokens
carrying bh (a gateway does not pass the body): for a service behind one,
--bind request binds method, path and query only (qsh, no bh), as
"asymjwt sign-proxy --bind request" does.

--aud names the service the token is for. A service running the Python
library asymmetric_jwt_auth refuses every token that carries aud: leave
--aud out when calling one.

With --header it prints the "Authorization: JWT ..." line for curl -H.`,
		example: `curl -H "$(asymjwt sign --key client.pem --user billing --aud orders --header)" \
    https://orders.internal/v1/orders`,
	})
	keyPath := fs.String("key", "", "private key `PATH` (PEM or OpenSSH), - for stdin")
	user := fs.String("user", "", "the `NAME` the token is for (the username claim)")
	var aud stringList
	fs.Var(&aud, "aud", "the `SERVICE` the token is meant for (aud claim); repeat for several")
	method := fs.String("method", "", "HTTP `METHOD` of the bound request (needs --url)")
	rawURL := fs.String("url", "", "bind the token to this request `URL` (path and query)")
	bodyPath := fs.String("body", "", "bind the token to the request body in `FILE`, - for stdin (needs --url)")
	bind := fs.String("bind", "body", "with --url, what the token is bound to, `WHAT`: body (qsh and bh) or request (qsh only)")
	header := fs.Bool("header", false, `print "Authorization: JWT <token>" instead of the bare token`)
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted private key, in `FILE`")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case len(rest) != 0:
		return usagef("unexpected argument %q", rest[0])
	case *keyPath == "" || *user == "":
		return usagef("--key and --user are required")
	case *rawURL == "" && (*method != "" || *bodyPath != "" || flagWasSet(fs, "bind")):
		return usagef("--method, --body and --bind need --url")
	case *bind != "body" && *bind != "request":
		return usagef("--bind must be body or request")
	case *bind == "request" && *bodyPath != "":
		return usagef("--bind request binds no body: leave out --body")
	case *keyPath == "-" && *bodyPath == "-":
		return usagef("--key and --body cannot both read stdin")
	}
	key, err := loadSigner(e, *keyPath, *passFile)
	if err != nil {
		return err
	}
	var opts []asymjwt.SignerOption
	if len(aud) > 0 {
		opts = append(opts, asymjwt.WithAudience(aud...))
	}
	if *rawURL != "" && *bind == "body" {
		opts = append(opts, asymjwt.WithBodyHash())
	}
	signer, err := asymjwt.NewSigner(*user, key, opts...)
	if err != nil {
		return err
	}
	var token string
	if *rawURL == "" {
		token, err = signer.Token()
	} else {
		token, err = signBound(e, signer, *method, *rawURL, *bodyPath)
	}
	if err != nil {
		return err
	}
	if *header {
		fmt.Fprintf(e.stdout, "Authorization: %s\n", signer.AuthorizationValue(token))
	} else {
		fmt.Fprintln(e.stdout, token)
	}
	return nil
}

func signBound(e *env, signer *asymjwt.Signer, method, rawURL, bodyPath string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", &usageError{msg: fmt.Sprintf("--url: %v", err)}
	}
	var body []byte
	if bodyPath != "" {
		if body, err = readInput(e, bodyPath); err != nil {
			return "", err
		}
	}
	return signer.TokenFor(defaultMethod(method, bodyPath != ""), u.EscapedPath(), u.RawQuery, body)
}

// defaultMethod is curl's choice: GET, or POST when a body is sent.
func defaultMethod(method string, hasBody bool) string {
	switch {
	case method != "":
		return strings.ToUpper(method)
	case hasBody:
		return http.MethodPost
	}
	return http.MethodGet
}

func runRequest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "request", help{
		usage: "asymjwt request --key PATH --user NAME [-X METHOD] [-d DATA|@FILE|-] [-H 'K: V']... [--aud A]... URL",
		text: `Sends one HTTP request signed with a fresh token bound to its method, path,
query (qsh) and body (bh), and prints the response body. Redirects to the
same host are signed anew; to another host they go unsigned. Exits 1 on a
response status of 400 or more (after printing the body). Its tokens
carry bh, which "asymjwt forward-auth" refuses (a gateway does not pass
the body): for a service behind one, use "asymjwt sign-proxy --bind
request".

--aud names the service the token is for. A service running the Python
library asymmetric_jwt_auth refuses every token that carries aud: leave
--aud out when calling one.`,
		example: `asymjwt request --key client.pem --user billing --aud orders \
    -X POST -H 'Content-Type: application/json' -d @order.json https://orders.internal/v1/orders`,
	})
	keyPath := fs.String("key", "", "private key `PATH` (PEM or OpenSSH)")
	user := fs.String("user", "", "the `NAME` to authenticate as")
	method := fs.String("X", "", "HTTP `METHOD` (default GET, or POST with -d)")
	data := fs.String("d", "", "request body: `DATA` as is, @FILE for a file's bytes, - or @- for stdin")
	var headers stringList
	fs.Var(&headers, "H", "request header `'Name: value'`; repeat for several")
	var aud stringList
	fs.Var(&aud, "aud", "the `SERVICE` the token is meant for (aud claim); repeat for several")
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted private key, in `FILE`")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after `DURATION`")
	caFile := fs.String("cacert", "", "trust the CA certificates in `FILE` (PEM) instead of the system's")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case len(rest) != 1:
		return usagef("want exactly one URL")
	case *keyPath == "" || *user == "":
		return usagef("--key and --user are required")
	case *keyPath == "-":
		return usagef("--key cannot read stdin here")
	}
	target, err := url.Parse(rest[0])
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return usagef("URL must be an absolute http or https URL")
	}
	hdr, host, err := parseHeaders(headers)
	if err != nil {
		return err
	}
	var body []byte
	hasBody := flagWasSet(fs, "d")
	if hasBody {
		if body, err = requestBody(e, *data); err != nil {
			return err
		}
	}
	key, err := loadSigner(e, *keyPath, *passFile)
	if err != nil {
		return err
	}
	opts := []asymjwt.SignerOption{asymjwt.WithRequestBinding(), asymjwt.WithBodyHash()}
	if len(aud) > 0 {
		opts = append(opts, asymjwt.WithAudience(aud...))
	}
	signer, err := asymjwt.NewSigner(*user, key, opts...)
	if err != nil {
		return err
	}
	var reader io.Reader
	if hasBody {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, defaultMethod(*method, hasBody), target.String(), reader)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	req.Header = hdr
	if host != "" {
		req.Host = host
	}
	transport, err := httpTransport(*caFile)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: signer.Transport(transport), Timeout: *timeout}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(e.stdout, resp.Body); err != nil {
		return fmt.Errorf("reading response: %w", err)
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return nil
}

// requestBody reads -d: literal data, @FILE, or - / @- for stdin.
func requestBody(e *env, data string) ([]byte, error) {
	switch {
	case data == "-" || data == "@-":
		return readInput(e, "-")
	case strings.HasPrefix(data, "@"):
		return readInput(e, data[1:])
	}
	return []byte(data), nil
}

// parseHeaders turns -H values into a header; a Host header becomes the
// request's host.
func parseHeaders(values []string) (http.Header, string, error) {
	h := make(http.Header)
	var host string
	for _, v := range values {
		name, value, ok := strings.Cut(v, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, "", usagef("-H %q: want 'Name: value'", v)
		}
		value = strings.TrimSpace(value)
		if textproto.CanonicalMIMEHeaderKey(name) == "Host" {
			host = value
			continue
		}
		h.Add(name, value)
	}
	return h, host, nil
}
