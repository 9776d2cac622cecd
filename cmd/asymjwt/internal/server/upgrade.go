package server

import (
	"net/http"
	"strings"
)

// upgradeRefusal says why r asks for a tunnel that must not be opened,
// and with which status; it returns 0, "" for a plain request.
//
// After a protocol switch (101) a proxy only copies bytes both ways:
// whatever the client sends next — more HTTP requests inside h2c, with
// their own identity headers — reaches the upstream unverified. So:
//   - CONNECT is refused (405), which also covers HTTP/2 extended
//     CONNECT (RFC 8441: WebSockets over HTTP/2);
//   - any request with an Upgrade header, or naming "upgrade" in
//     Connection (in any case, among other tokens), is refused (400):
//     h2c (RFC 7540 §3.2) always, TLS upgrades (RFC 2817), any other
//     token;
//   - with allowWebSocket only, an HTTP/1.1 GET with exactly one Upgrade
//     value "websocket" and Connection naming "upgrade" (RFC 6455 §4.1)
//     passes: its handshake is verified like any request, the frames
//     that follow are not.
func upgradeRefusal(r *http.Request, allowWebSocket bool) (int, string) {
	if r.Method == http.MethodConnect {
		return http.StatusMethodNotAllowed, "CONNECT (a tunnel) refused"
	}
	upgrade := r.Header.Values("Upgrade")
	connUpgrade := headerHasToken(r.Header.Values("Connection"), "upgrade")
	if len(upgrade) == 0 && !connUpgrade {
		return 0, ""
	}
	if allowWebSocket && r.Method == http.MethodGet && r.ProtoMajor == 1 && r.ProtoMinor >= 1 &&
		connUpgrade && len(upgrade) == 1 && strings.EqualFold(strings.Trim(upgrade[0], " \t"), "websocket") {
		return 0, ""
	}
	if allowWebSocket {
		return http.StatusBadRequest, "protocol upgrade refused: only a WebSocket handshake (GET, Connection: Upgrade, Upgrade: websocket) may switch protocols"
	}
	return http.StatusBadRequest, "protocol upgrade refused: after a switch nothing the client sends would be verified (--allow-websocket lets WebSocket handshakes through)"
}

// headerHasToken reports whether a comma-separated header (Connection)
// lists token, compared case-insensitively, spaces and tabs around each
// element ignored (RFC 9110 §5.6.1).
func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.Trim(elem, " \t"), token) {
				return true
			}
		}
	}
	return false
}
