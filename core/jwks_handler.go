package asymjwt

import (
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// JWKSPath is where a service conventionally serves its JWKS.
const JWKSPath = "/.well-known/jwks.json"

// JWKSHandlerCacheControl is the Cache-Control of NewJWKSHandler's
// responses: publish a new key at least this long (5 minutes) before
// signing with it, so that every verifier's cache has it.
const JWKSHandlerCacheControl = "public, max-age=300"

type jwksHandler struct {
	body []byte
	etag string
}

// NewJWKSHandler serves pubs as a JSON Web Key Set ({"keys": [...]}) for
// JWKSTrust and the Python library's JWKS trust, each key as NewJWK
// describes it (use "sig", its default alg — a *PinnedKey's own — and its
// fingerprint as kid; for RSA the Python library's as_jwk form). Mount it
// at JWKSPath. Responses carry Cache-Control and a strong ETag; a
// matching If-None-Match gets 304 Not Modified. GET and HEAD only.
func NewJWKSHandler(pubs ...crypto.PublicKey) (http.Handler, error) {
	if len(pubs) == 0 {
		return nil, errors.New("asymjwt: NewJWKSHandler needs at least one key")
	}
	set := JWKS{Keys: make([]JWK, 0, len(pubs))}
	for _, pub := range pubs {
		j, err := NewJWK(unpin(pub))
		if err != nil {
			return nil, err
		}
		if p, ok := pub.(*PinnedKey); ok {
			if err := checkPublicKey(p); err != nil {
				return nil, err
			}
			j.Alg = p.Algorithm
		}
		if !slices.ContainsFunc(set.Keys, func(k JWK) bool { return k.Kid == j.Kid }) {
			set.Keys = append(set.Keys, j)
		}
	}
	body, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	return &jwksHandler{body: body, etag: `"` + b64.EncodeToString(sum[:16]) + `"`}, nil
}

func (h *jwksHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	hdr.Set("Cache-Control", JWKSHandlerCacheControl)
	hdr.Set("ETag", h.etag)
	if etagMatches(r.Header.Values("If-None-Match"), h.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(len(h.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(h.body)
	}
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 §13.1.2).
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}
