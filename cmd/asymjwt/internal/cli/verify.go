package cli

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func runVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "verify", help{
		usage: "asymjwt verify (--pub PATH | --keys DIR | --keys-db URL | --jwks URL) [--user NAME] [--aud A]... [--json] TOKEN",
		text: `Verifies a token as a server would and prints the caller's identity (exit
0), or the reason it is refused on stderr (exit 1). TOKEN may also be
"JWT <token>" or a whole "Authorization: JWT <token>" line; "-" reads it
from stdin.

The keys come from one source: a key file (--pub; trusted for --user, or
for whatever user the token names when --user is not given), an
authorized-keys directory (--keys; --user then limits which user may
pass), a key database (--keys-db, alone or after --keys, as the proxy
chains them; --user limits likewise), or a JWKS URL (https) whose keys
are trusted for --user (--jwks).

A token bound to a request (qsh, bh) verifies only against that request:
give it with --method, --url and --body.`,
		example: `asymjwt sign --key client.pem --user billing | asymjwt verify --pub client.pem.pub --user billing -`,
	})
	pubPath := fs.String("pub", "", "trust the public key in `PATH` (PEM, OpenSSH or JWK; a private key file works too)")
	keysDir := fs.String("keys", "", "trust the authorized-keys directory `DIR`")
	keysDB := fs.String("keys-db", "", "trust the key database `URL` (postgres://, postgresql:// or sqlite:PATH)")
	jwksURL := fs.String("jwks", "", "trust the keys published at this JWKS `URL` for --user")
	user := fs.String("user", "", "accept only this user `NAME`")
	var aud stringList
	fs.Var(&aud, "aud", "this service's `NAME`: a token that carries aud must name it; repeat for several")
	tolerance := fs.Duration("tolerance", asymjwt.DefaultTolerance, "accept token times within ± `DURATION` of now")
	method := fs.String("method", "", "`METHOD` of the request a bound token came with (needs --url)")
	rawURL := fs.String("url", "", "`URL` (path and query) of the request a bound token came with")
	bodyPath := fs.String("body", "", "body of the request a bound token came with, in `FILE` (needs --url)")
	caFile := fs.String("cacert", "", "trust the CA certificates in `FILE` (PEM) for --jwks, instead of the system's")
	asJSON := fs.Bool("json", false, "print the identity as JSON")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	sources := 0
	for _, s := range []string{*pubPath, *keysDir + *keysDB, *jwksURL} {
		if s != "" {
			sources++
		}
	}
	switch {
	case len(rest) != 1:
		return usagef("want exactly one TOKEN (or - for stdin)")
	case sources != 1:
		return usagef("give exactly one of --pub, --keys (and/or --keys-db) and --jwks")
	case *jwksURL != "" && *user == "":
		return usagef("--jwks needs --user: the user whose keys the URL publishes")
	case *rawURL == "" && (*method != "" || *bodyPath != ""):
		return usagef("--method and --body need --url")
	case *caFile != "" && *jwksURL == "":
		return usagef("--cacert needs --jwks")
	case rest[0] == "-" && (*pubPath == "-" || *bodyPath == "-"):
		return usagef("only one input can be read from stdin")
	}
	text, err := readTokenText(e, rest[0])
	if err != nil {
		return err
	}
	var req *asymjwt.Request
	if *rawURL != "" {
		if req, err = boundRequest(e, *method, *rawURL, *bodyPath); err != nil {
			return err
		}
	}

	var (
		keys asymjwt.KeyStore
		pub  crypto.PublicKey
		// single holds --pub's key, registered once the token names its user.
		single *asymjwt.MemoryKeyStore
	)
	switch {
	case *pubPath != "":
		if pub, _, err = loadPublicKey(e, *pubPath, ""); err != nil {
			return err
		}
		single = asymjwt.NewMemoryKeyStore()
		keys = single
	case *keysDir != "" || *keysDB != "":
		store, closeKeys, err := openKeyStore(ctx, keySource{dir: *keysDir, db: *keysDB, warn: warnTo(e)})
		if err != nil {
			return err
		}
		defer closeKeys()
		keys = store
		if *user != "" {
			keys = onlyUser{KeyStore: store, username: *user}
		}
	default:
		transport, err := httpTransport(*caFile)
		if err != nil {
			return err
		}
		trust := asymjwt.NewJWKSTrust(
			asymjwt.WithJWKSHTTPClient(&http.Client{Transport: transport}),
			asymjwt.WithJWKSLogger(slog.New(slog.DiscardHandler)))
		defer trust.Close()
		if err := trust.Trust(*user, *jwksURL); err != nil {
			return err
		}
		keys = trust
	}

	opts := []asymjwt.VerifierOption{
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)),
		asymjwt.WithTolerance(*tolerance),
		// A store of this run's own, as if each run were its own process.
		asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()),
		asymjwt.WithAudienceHint("--aud"),
	}
	if len(aud) > 0 {
		opts = append(opts, asymjwt.WithAudience(aud...))
	}
	v, err := asymjwt.NewVerifier(keys, opts...)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	token, err := tokenText(v, text)
	if err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	claimed := claimedUsername(token)
	if single != nil {
		if err := trustSingleKey(single, pub, *user, claimed); err != nil {
			return err
		}
	}
	var id *asymjwt.Identity
	if req != nil {
		id, err = v.VerifyToken(ctx, token, req)
	} else {
		id, err = v.Verify(ctx, token)
	}
	if err != nil {
		if claimed != "" {
			return fmt.Errorf("refused (token claims user %q): %w", claimed, err)
		}
		return fmt.Errorf("refused: %w", err)
	}
	return printIdentity(e, id, *asJSON)
}

// trustSingleKey registers pub in store for user, or for the user the
// token claims.
func trustSingleKey(store *asymjwt.MemoryKeyStore, pub crypto.PublicKey, user, claimed string) error {
	name := user
	if name == "" {
		name = claimed
	}
	if name == "" {
		return nil
	}
	_, err := store.Add(name, pub)
	return err
}

// onlyUser answers for one username; every other user is unknown.
type onlyUser struct {
	asymjwt.KeyStore
	username string
}

func (o onlyUser) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	if username != o.username {
		return nil, asymjwt.ErrUnknownUser
	}
	return o.KeyStore.Keys(ctx, username, kid)
}

func boundRequest(e *env, method, rawURL, bodyPath string) (*asymjwt.Request, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &usageError{msg: fmt.Sprintf("--url: %v", err)}
	}
	var body []byte
	if bodyPath != "" {
		// The verifier hashes no more than its limit: read no more.
		body, err = readLimited(e, bodyPath, asymjwt.DefaultMaxBodySize)
		if errors.Is(err, errTooLarge) {
			return nil, fmt.Errorf("--body: %w (%v)", asymjwt.ErrBodyTooLarge, err)
		}
		if err != nil {
			return nil, err
		}
	}
	return &asymjwt.Request{
		Method:   defaultMethod(method, bodyPath != ""),
		Path:     u.EscapedPath(),
		RawQuery: u.RawQuery,
		Body: func(limit int64) ([]byte, error) {
			if int64(len(body)) > limit {
				return nil, fmt.Errorf("%w: %d bytes, limit %d", asymjwt.ErrBodyTooLarge, len(body), limit)
			}
			return body, nil
		},
	}, nil
}

// identityJSON is the --json form of an identity.
type identityJSON struct {
	Username     string   `json:"username"`
	KeyID        string   `json:"kid"`
	Algorithm    string   `json:"algorithm"`
	Time         string   `json:"time"`
	Nonce        string   `json:"nonce"`
	Audience     []string `json:"audience"`
	RequestBound bool     `json:"request_bound"`
	BodyBound    bool     `json:"body_bound"`
}

func printIdentity(e *env, id *asymjwt.Identity, asJSON bool) error {
	out := identityJSON{
		Username:     id.Username,
		KeyID:        id.KeyID,
		Algorithm:    id.Algorithm,
		Time:         id.Time.UTC().Format(time.RFC3339),
		Nonce:        id.Nonce,
		Audience:     append([]string{}, id.Audience...),
		RequestBound: id.RequestBound,
		BodyBound:    id.BodyBound,
	}
	if asJSON {
		return writeJSON(e, out)
	}
	audience := strings.Join(out.Audience, ", ")
	if audience == "" {
		audience = "(none)"
	}
	fmt.Fprintf(e.stdout, "username:      %s\nkid:           %s\nalgorithm:     %s\ntime:          %s\nnonce:         %s\naudience:      %s\nrequest bound: %t\nbody bound:    %t\n",
		out.Username, out.KeyID, out.Algorithm, out.Time, out.Nonce, audience, out.RequestBound, out.BodyBound)
	return nil
}

// readTokenText reads the TOKEN argument, or stdin for "-", refusing
// more than maxTokenInput bytes before looking at it.
func readTokenText(e *env, arg string) (string, error) {
	if arg == "-" {
		data, err := readAtMost(e.stdin, "stdin", maxTokenInput)
		if errors.Is(err, errTooLarge) {
			return "", fmt.Errorf("%w: more than %d bytes on stdin", asymjwt.ErrTokenTooLarge, maxTokenInput)
		}
		return string(data), err
	}
	if len(arg) > maxTokenInput {
		return "", fmt.Errorf("%w: %d bytes", asymjwt.ErrTokenTooLarge, len(arg))
	}
	return arg, nil
}

// tokenText takes a token as pasted: bare, "SCHEME TOKEN", or a whole
// "Authorization: SCHEME TOKEN" line. Anything but a bare token goes
// through v's own Authorization parsing, so the CLI accepts the schemes
// a server with the same options accepts, and no others.
func tokenText(v *asymjwt.Verifier, s string) (string, error) {
	s = strings.TrimSpace(s)
	if name, value, ok := strings.Cut(s, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Authorization") {
		return v.TokenFromHeader([]string{strings.TrimSpace(value)})
	}
	if s == "" {
		return "", errors.New("not a token: want TOKEN, SCHEME TOKEN or Authorization: SCHEME TOKEN")
	}
	if !strings.ContainsAny(s, " \t\r\n") {
		return s, nil
	}
	return v.TokenFromHeader([]string{s})
}

// headerParser is a verifier for its Authorization parsing only: inspect
// takes a token as verify does.
func headerParser() (*asymjwt.Verifier, error) {
	return asymjwt.NewVerifier(asymjwt.NewMemoryKeyStore(),
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)),
		asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()))
}

// decodeToken splits a compact JWS and decodes its header and claims,
// which must be JSON objects. Nothing is verified.
func decodeToken(token string) (header, claims []byte, err error) {
	parts := strings.SplitN(token, ".", 4)
	if len(parts) != 3 {
		return nil, nil, errors.New("not a compact JWS: want three dot-separated parts")
	}
	decode := func(what, part string) ([]byte, error) {
		data, err := base64.RawURLEncoding.Strict().DecodeString(part)
		if err != nil {
			return nil, fmt.Errorf("%s: bad base64url: %v", what, err)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("%s is not a JSON object", what)
		}
		return data, nil
	}
	if header, err = decode("header", parts[0]); err != nil {
		return nil, nil, err
	}
	if claims, err = decode("claims", parts[1]); err != nil {
		return nil, nil, err
	}
	return header, claims, nil
}

// claimedUsername is the token's username claim, unverified; empty when
// the token does not decode.
func claimedUsername(token string) string {
	_, claims, err := decodeToken(token)
	if err != nil {
		return ""
	}
	var c struct {
		Username string `json:"username"`
	}
	if json.Unmarshal(claims, &c) != nil {
		return ""
	}
	return c.Username
}

func runInspect(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "inspect", help{
		usage: "asymjwt inspect [--json] TOKEN",
		text: `Decodes a token's header and claims WITHOUT verifying anything: neither
the signature nor the time nor the nonce. The output is marked UNVERIFIED;
use it to debug, never to decide. TOKEN may also be "JWT <token>" or a
whole "Authorization: JWT <token>" line; "-" reads it from stdin.`,
		example: `asymjwt sign --key client.pem --user billing | asymjwt inspect -`,
	})
	asJSON := fs.Bool("json", false, `print {"verified": false, "header": ..., "claims": ...}`)
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case len(rest) != 1:
		return usagef("want exactly one TOKEN (or - for stdin)")
	}
	text, err := readTokenText(e, rest[0])
	if err != nil {
		return err
	}
	parser, err := headerParser()
	if err != nil {
		return err
	}
	token, err := tokenText(parser, text)
	if err != nil {
		return err
	}
	header, claims, err := decodeToken(token)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e, struct {
			Verified bool            `json:"verified"`
			Header   json.RawMessage `json:"header"`
			Claims   json.RawMessage `json:"claims"`
		}{false, header, claims})
	}
	var b bytes.Buffer
	b.WriteString("UNVERIFIED: decoded only; signature, time and nonce were NOT checked.\nheader:\n")
	if err := json.Indent(&b, header, "", "  "); err != nil {
		return err
	}
	b.WriteString("\nclaims:\n")
	if err := json.Indent(&b, claims, "", "  "); err != nil {
		return err
	}
	b.WriteString("\n")
	var c struct {
		Time json.RawMessage `json:"time"`
	}
	if json.Unmarshal(claims, &c) == nil {
		if t, err := strconv.ParseInt(string(c.Time), 10, 64); err == nil {
			fmt.Fprintf(&b, "time: %s\n", time.Unix(t, 0).UTC().Format(time.RFC3339))
		}
	}
	_, err = e.stdout.Write(b.Bytes())
	return err
}
