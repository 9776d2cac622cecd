package server

import (
	"net/http"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// The gateway's headers are untrusted input as far as this parser goes
// (a misconfigured gateway passes the client's): whatever they hold, it
// returns an error, no request, or a request whose URI is exactly the
// one given, split once at "?", with a query that parses.
func FuzzOriginalRequest(f *testing.F) {
	for _, s := range [][4]string{
		{"GET", "/v1/orders?a=1&a=2", "", ""},
		{"", "", "POST", "/x"},
		{"GET", "/x", "GET", "/y"},
		{"get", "/a%2Fb?x=%20", "get", "/a%2Fb?x=%20"},
		{"GET", "http://evil/x", "", ""},
		{"GET", "//evil/x", "", ""},
		{"G ET", "/x", "", ""},
		{"GET", "/x?a=%zz", "", ""},
		{"GET", "/x?a;b", "", ""},
		{"GET", "/x#frag", "", ""},
		{"GET", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, om, ou, fm, fu string) {
		h := http.Header{}
		for name, v := range map[string]string{HeaderOriginalMethod: om, HeaderOriginalURI: ou, HeaderForwardedMethod: fm, HeaderForwardedURI: fu} {
			if v != "" {
				h.Set(name, v)
			}
		}
		req, err := originalRequest(h)
		if err != nil || req == nil {
			if err == nil && (om != "" || ou != "" || fm != "" || fu != "") {
				t.Fatalf("headers %v gave no request and no error", h)
			}
			return
		}
		uri := h.Get(HeaderOriginalURI)
		if uri == "" {
			uri = h.Get(HeaderForwardedURI)
		}
		got := req.Path
		if strings.Contains(uri, "?") {
			got += "?" + req.RawQuery
		}
		if got != uri || !strings.HasPrefix(req.Path, "/") || strings.Contains(req.Path, "?") {
			t.Fatalf("%q became path %q query %q", uri, req.Path, req.RawQuery)
		}
		if queryError(req.RawQuery) != nil {
			t.Fatalf("query %q does not parse", req.RawQuery)
		}
		if _, err := asymjwt.QueryStringHash(req.Method, req.Path, req.RawQuery, ""); err != nil {
			t.Fatalf("%s %q: %v", req.Method, uri, err)
		}
		if _, err := req.Body(1 << 20); err == nil {
			t.Fatal("a body came from nowhere")
		}
	})
}
