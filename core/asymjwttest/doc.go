// Package asymjwttest checks that an HTTP middleware built on asymjwt
// behaves as the protocol requires, the way golang.org/x/net/nettest
// checks a net.Conn: the adapter starts its framework's server on
// loopback, and [Run] drives it through the client [asymjwt.Signer.Transport]
// with accepted, replayed, tampered, anonymous and failing-store requests.
//
// An adapter's test supplies a [StartFunc] that serves an [App]: the
// App's verifier and options wired into the adapter's middleware, and
// [App.Handle] as the handler of [ItemRoute] and [PublicRoute] for every
// method:
//
//	func TestConformance(t *testing.T) {
//		asymjwttest.Run(t, func(t testing.TB, app *asymjwttest.App) string {
//			// options maps app.Optional, app.SkipPublic, app.ErrorHandler
//			// and app.SuccessHandler to the adapter's own options.
//			r := gin.New()
//			r.Use(asymjwtgin.Middleware(app.Verifier, options(app)...))
//			h := func(c *gin.Context) {
//				body, _ := io.ReadAll(c.Request.Body)
//				id, _ := asymjwtgin.Identity(c)
//				c.Data(http.StatusOK, "application/json", app.Handle(c.Request.Context(), id, body))
//			}
//			r.Any(asymjwttest.ItemRoute, h)
//			r.Any(asymjwttest.PublicRoute, h)
//			srv := httptest.NewServer(r)
//			t.Cleanup(srv.Close)
//			return srv.URL
//		})
//	}
//
// Every refusal is checked three ways: the status and headers the client
// sees, the reason the verifier reported (through [asymjwt.WithObserver]),
// and that the handler behind the middleware never ran. Refusals are also
// compared with each other: every 401 from one server must carry the same
// body and WWW-Authenticate, and so must every 503, or the client learns
// which check failed. The server must keep connections alive: an anonymous
// request sent right after an accepted one on the same connection must
// reach the handler without an identity.
//
// [RunDriver] holds every adapter, HTTP or gRPC, to the rules they share,
// calling it in process through a [Driver] the adapter's test supplies
// ([HTTPDriver] for an http.Handler): exactly one credential whatever the
// case of its key, stacked middleware verifying once, an identity already
// on the request's context vouching for nothing, refusals alike and
// without detail, fail closed on store failures. The package does not
// import gRPC: grpcauth's tests implement the Driver.
//
// [Bench] gives adapter benchmarks the same token shape as core's bare
// [asymjwt.Verifier.Verify], so middleware overhead can be compared with it.
//
// The package imports only the standard library and asymjwt.
package asymjwttest
