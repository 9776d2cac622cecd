package server

import (
	"net/url"
	"strings"
	"unicode"
)

// ValidHeaderName reports whether name is an HTTP header field name (an
// RFC 9110 token).
func ValidHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// headerKey folds a header name for comparison: case-insensitive, and
// "_" the same as "-", since CGI, WSGI and similar gateways turn both
// into the same variable (X_Authenticated_User would pose as
// X-Authenticated-User).
func headerKey(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}

// overrideHeaders (folded by headerKey) let some frameworks change a
// request's method or URL: an upstream honouring them would run a token
// bound to one request as another.
var overrideHeaders = map[string]bool{
	"x-http-method-override": true,
	"x-http-method":          true,
	"x-method-override":      true,
	"x-original-url":         true,
	"x-rewrite-url":          true,
}

// unsafeHeaderValue says why name cannot be forwarded as a header value
// that the upstream reads back unchanged, or returns "". Parsers drop
// surrounding spaces and tabs (" admin" would read as "admin"), some any
// white space, and may split on "," (a list); control characters end or
// fold the header.
func unsafeHeaderValue(name string) string {
	switch {
	case name == "":
		return "empty"
	case strings.TrimFunc(name, unicode.IsSpace) != name:
		return "leading or trailing white space"
	case strings.Contains(name, ","):
		return `contains ","`
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "contains a control character"
	}
	return ""
}

// queryError is url.ParseQuery's error for q, without its allocations
// for the common empty query.
func queryError(q string) error {
	if q == "" {
		return nil
	}
	_, err := url.ParseQuery(q)
	return err
}
