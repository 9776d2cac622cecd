package asymjwt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// QueryStringHash returns the qsh claim for a request: the lowercase hex
// SHA-256 of its canonical form (docs/PROTOCOL.md §1.4, the same as Atlassian Connect's
// query string hash). escapedPath is the path as sent (URL.EscapedPath),
// rawQuery the query without "?". A non-empty pathPrefix (the mount point
// behind a proxy) is removed from the front of the path when present.
func QueryStringHash(method, escapedPath, rawQuery, pathPrefix string) (string, error) {
	canonical, err := CanonicalRequest(method, escapedPath, rawQuery, pathPrefix)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(canonical))
	return hex.EncodeToString(sum[:]), nil
}

// CanonicalRequest returns UPPER(method) + "&" + canonical path + "&" +
// canonical query. It fails only on a query with invalid percent escapes.
func CanonicalRequest(method, escapedPath, rawQuery, pathPrefix string) (string, error) {
	query, err := canonicalQuery(rawQuery)
	if err != nil {
		return "", err
	}
	return strings.ToUpper(method) + "&" + canonicalPath(escapedPath, pathPrefix) + "&" + query, nil
}

func canonicalPath(p, prefix string) string {
	if prefix = strings.TrimSuffix(prefix, "/"); prefix != "" && strings.HasPrefix(p, prefix) {
		if rest := p[len(prefix):]; rest == "" || rest[0] == '/' {
			p = rest
		}
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if p == "" {
		p = "/"
	}
	return strings.ReplaceAll(p, "&", "%26")
}

func canonicalQuery(rawQuery string) (string, error) {
	if rawQuery == "" {
		return "", nil
	}
	params := make(map[string][]string)
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		// Servers disagree on ";": some split parameters on it, Go drops
		// such parameters. A query it could mean two things in is refused.
		if strings.IndexByte(part, ';') >= 0 {
			return "", fmt.Errorf("%w: raw ';' in the query", ErrRequestMismatch)
		}
		name, value, _ := strings.Cut(part, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			return "", fmt.Errorf("%w: bad query escape: %v", ErrRequestMismatch, err)
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return "", fmt.Errorf("%w: bad query escape: %v", ErrRequestMismatch, err)
		}
		key := rfc3986Escape(n)
		params[key] = append(params[key], v)
	}
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		// Values sort by their decoded text, then are encoded: what
		// Atlassian's reference implementation and published vectors do.
		values := params[n]
		slices.Sort(values)
		b.WriteString(n)
		b.WriteByte('=')
		for j, v := range values {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(rfc3986Escape(v))
		}
	}
	return b.String(), nil
}

// rfc3986Escape percent-encodes everything but the unreserved characters
// A-Z a-z 0-9 - . _ ~, with uppercase hex.
func rfc3986Escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !isUnreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
