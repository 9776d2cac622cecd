package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// The headers a gateway sends with its authorization subrequest to say
// which request it asks about. nginx auth_request setups conventionally
// pass the first pair (proxy_set_header X-Original-Method
// $request_method; X-Original-URI $request_uri); Traefik ForwardAuth and
// Caddy forward_auth send the second; Envoy ext_authz (HTTP) can be told
// to send either.
const (
	HeaderOriginalMethod  = "X-Original-Method"
	HeaderOriginalURI     = "X-Original-Uri"
	HeaderForwardedMethod = "X-Forwarded-Method"
	HeaderForwardedURI    = "X-Forwarded-Uri"
)

// errBodyNotForwarded is why a token carrying bh is refused: gateways
// send no body with their subrequests.
var errBodyNotForwarded = errors.New("the gateway does not send the request body, so a token bound to it (bh) cannot be checked by forward-auth: run asymjwt proxy in front of this service instead")

// ForwardAuthConfig configures NewForwardAuth.
type ForwardAuthConfig struct {
	// Verifier authenticates every subrequest. It must not require body
	// binding (RequireBodyHash): no body ever reaches forward auth.
	Verifier *asymjwt.Verifier
	// UserHeader carries the username back to the gateway in the 2xx
	// response (DefaultUserHeader when empty).
	UserHeader string
	// HealthPath, when not empty, is answered with 200 without
	// credentials: the gateway must never send subrequests there.
	HealthPath string
	// Logger receives the access log and refusal reasons.
	Logger *slog.Logger
}

// NewForwardAuth returns the forward-auth server: it answers a gateway's
// authorization subrequests, on any path and with any method, with 200
// and the username in c.UserHeader when the Authorization header holds a
// valid token for the original request, 401 with WWW-Authenticate when
// not, 503 when a store is down. The original request is read from
// X-Original-Method and X-Original-URI, or X-Forwarded-Method and
// X-Forwarded-Uri; when both pairs are sent they must agree. A request
// with neither pair can carry only tokens bound to no request (and none
// when the verifier requires binding). A token carrying bh is refused:
// the gateway sends no body.
func NewForwardAuth(c ForwardAuthConfig) http.Handler {
	v, logger := c.Verifier, c.Logger
	userHeader := c.UserHeader
	if userHeader == "" {
		userHeader = DefaultUserHeader
	}
	userHeader = textproto.CanonicalMIMEHeaderKey(userHeader)
	return withAccessLog(logger, c.HealthPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		orig, err := originalRequest(r.Header)
		if err != nil {
			// Never verified: the token is not spent.
			logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt forward-auth: subrequest refused", slog.String("reason", err.Error()))
			v.WriteError(w, fmt.Errorf("%w: %w", asymjwt.ErrRequestMismatch, err), false)
			return
		}
		id, err := v.Authenticate(r.Context(), asymjwt.AuthorizationValues(r.Header), orig)
		if err == nil {
			if reason := unsafeHeaderValue(id.Username); reason != "" {
				err = fmt.Errorf("%w: %s", errUnsafeUsername, reason)
			}
		}
		if err != nil {
			switch {
			case errors.Is(err, errBodyNotForwarded):
				logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt forward-auth: "+errBodyNotForwarded.Error())
			case orig == nil && errors.Is(err, asymjwt.ErrRequestMismatch):
				logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt forward-auth: the token must be checked against its request, and the gateway sent neither X-Original-Method and X-Original-URI nor X-Forwarded-Method and X-Forwarded-Uri")
			case errors.Is(err, errUnsafeUsername):
				logger.LogAttrs(r.Context(), slog.LevelWarn, err.Error(), slog.String("user", id.Username))
			}
			v.WriteError(w, err, false)
			return
		}
		setAccessUser(r.Context(), id.Username)
		w.Header().Set(userHeader, id.Username)
		w.WriteHeader(http.StatusOK)
	}))
}

// originalRequest reconstructs the request the gateway asks about from
// its headers, or returns nil when it sent neither pair.
func originalRequest(h http.Header) (*asymjwt.Request, error) {
	om, ou, okO, err := headerPair(h, HeaderOriginalMethod, HeaderOriginalURI)
	if err != nil {
		return nil, err
	}
	fm, fu, okF, err := headerPair(h, HeaderForwardedMethod, HeaderForwardedURI)
	if err != nil {
		return nil, err
	}
	method, uri := om, ou
	switch {
	case okO && okF && (om != fm || ou != fu):
		// One pair may come from the client: the gateway overwrites only
		// the pair it sends. Agreeing, they say the same; disagreeing,
		// one of them lies.
		return nil, fmt.Errorf("%s %q %q and %s %q %q disagree", HeaderOriginalMethod, om, ou, HeaderForwardedMethod, fm, fu)
	case !okO && !okF:
		return nil, nil
	case okF:
		method, uri = fm, fu
	}
	if !ValidHeaderName(method) { // a method is a token, as a header name
		return nil, fmt.Errorf("original method %q is not an HTTP method", method)
	}
	if !strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "//") {
		return nil, fmt.Errorf("original URI %q is not a path with an optional query", uri)
	}
	if _, err := url.ParseRequestURI(uri); err != nil || strings.ContainsAny(uri, "# \t") {
		return nil, fmt.Errorf("original URI %q does not parse", uri)
	}
	path, query, _ := strings.Cut(uri, "?")
	if err := queryError(query); err != nil {
		// The gateway and the upstream may read such a query differently.
		return nil, fmt.Errorf("original query does not parse: %w", err)
	}
	return &asymjwt.Request{
		Method:   strings.ToUpper(method),
		Path:     path,
		RawQuery: query,
		Body:     func(int64) ([]byte, error) { return nil, errBodyNotForwarded },
	}, nil
}

// headerPair returns the single values of a method and a URI header;
// ok is false when neither is present. One without the other, or either
// repeated, is an error.
func headerPair(h http.Header, methodName, uriName string) (method, uri string, ok bool, err error) {
	m, u := h.Values(methodName), h.Values(uriName)
	switch {
	case len(m) == 0 && len(u) == 0:
		return "", "", false, nil
	case len(m) != 1 || len(u) != 1:
		return "", "", false, fmt.Errorf("%s and %s must come once each (got %d and %d values)", methodName, uriName, len(m), len(u))
	}
	return m[0], u[0], true, nil
}
