package asymjwt

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// SignRequest sets r's Authorization header to a fresh token, replacing
// any Authorization value r had (under any spelling of the key), with qsh
// and bh when the signer was built WithRequestBinding / WithBodyHash. To
// hash the body it reads it (through GetBody when set) and leaves a body
// that can still be sent, and re-sent on redirects and retries.
func (s *Signer) SignRequest(r *http.Request) error {
	var body []byte
	if s.cfg.hashBody {
		var err error
		if body, err = readRequestBody(r); err != nil {
			return err
		}
	}
	var qsh, bh string
	if s.cfg.bindRequest {
		var err error
		if qsh, err = QueryStringHash(r.Method, r.URL.EscapedPath(), r.URL.RawQuery, s.cfg.pathPrefix); err != nil {
			return err
		}
	}
	if s.cfg.hashBody {
		bh = BodyHash(body)
	}
	token, err := s.token(qsh, bh)
	if err != nil {
		return err
	}
	deleteAuthorization(r.Header)
	r.Header.Set("Authorization", s.AuthorizationValue(token))
	return nil
}

// deleteAuthorization removes every Authorization value from h, whatever
// the spelling of its key in a header map built in process (net/http's
// server only makes canonical keys): AuthorizationValues counts them all.
func deleteAuthorization(h http.Header) {
	for name := range h {
		if strings.EqualFold(name, "Authorization") {
			delete(h, name)
		}
	}
}

// readRequestBody returns r's body and leaves r able to send it again.
func readRequestBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.GetBody != nil {
		rc, err := r.GetBody()
		if err != nil {
			return nil, fmt.Errorf("asymjwt: body for hashing: %w", err)
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	data, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("asymjwt: body for hashing: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	r.ContentLength = int64(len(data))
	return data, nil
}

// Transport returns an http.RoundTripper that signs every request it
// sends with a fresh token — each retry and each redirect hop gets its own
// — and then passes it to base (http.DefaultTransport when nil).
//
// http.Transport resends a request on its own when a reused connection
// fails after the request was written (an idempotent request, RFC 9110
// §9.2.2, whose body can be sent again), with the same headers: with a
// token the server may already have recorded, so the retry would be
// refused as a replay. This transport sends every attempt in the form
// http.Transport never resends (its documented rule: a request with a
// body and no GetBody) and makes that one retry itself, with a new token.
//
// Once a redirect chain has left the first request's scheme and host, its
// hops are sent unsigned, as http.Client drops credentials on such
// redirects: a token signed for an unexpected host could be replayed from
// there to the real service.
func (s *Signer) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &signingTransport{signer: s, base: base}
}

type signingTransport struct {
	signer *Signer
	base   http.RoundTripper
}

func (t *signingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if crossedHosts(req) {
		// A RoundTripper must not modify the caller's request.
		out := req.Clone(req.Context())
		deleteAuthorization(out.Header)
		return t.base.RoundTrip(out)
	}
	resp, err := t.attempt(req, false)
	if err == nil || req.Context().Err() != nil || !replayable(req) {
		return resp, err
	}
	return t.attempt(req, true)
}

// attempt sends a clone of req signed with a fresh token; a retry takes
// the body anew from req.GetBody.
func (t *signingTransport) attempt(req *http.Request, retry bool) (*http.Response, error) {
	out := req.Clone(req.Context())
	if retry && req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = body
	}
	if err := t.signer.SignRequest(out); err != nil {
		if out.Body != nil {
			out.Body.Close()
		}
		return nil, err
	}
	out.GetBody = nil
	if (out.Body == nil || out.Body == http.NoBody) && transportRetries(out) {
		// An empty body that is not NoBody: http.Transport then never
		// resends the request. For GET, HEAD, DELETE and OPTIONS it probes
		// the body and sends none; for the others it would send a
		// zero-length chunked body, so they get one only when net/http
		// would resend them (TRACE, an Idempotency-Key header).
		out.Body = emptyBody{}
	}
	return t.base.RoundTrip(out)
}

// transportRetries reports whether http.Transport may resend req on its
// own (its documented rule for a request without a body), or sends it
// without a body all the same when given an empty one (DELETE).
func transportRetries(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodDelete:
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

// emptyBody is a request body with nothing in it.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

// replayable: idempotent (RFC 9110 §9.2.2) and with a body that can be
// sent again.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	}
	return false
}

// crossedHosts reports whether any hop of req's redirect chain changed
// scheme or host: every hop is compared with the one before it, back to
// the first request.
func crossedHosts(req *http.Request) bool {
	for r := req; r.Response != nil && r.Response.Request != nil; r = r.Response.Request {
		prev := r.Response.Request
		if prev.URL.Host != r.URL.Host || prev.URL.Scheme != r.URL.Scheme {
			return true
		}
	}
	return false
}
