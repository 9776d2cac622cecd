package asymjwt

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// SignRequest sets r's Authorization header to a fresh token, with qsh
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
	r.Header.Set("Authorization", s.AuthorizationValue(token))
	return nil
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
	// A RoundTripper must not modify the caller's request.
	out := req.Clone(req.Context())
	if crossedHosts(req) {
		out.Header.Del("Authorization")
		return t.base.RoundTrip(out)
	}
	if err := t.signer.SignRequest(out); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.base.RoundTrip(out)
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
