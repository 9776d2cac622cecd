// Package asymjwtecho authenticates echo (v4) requests with asymjwt:
// signed, single-use JWTs from services that hold a private key, checked
// against the public keys the server trusts.
//
//	v, err := asymjwt.NewVerifier(keys, asymjwt.WithAudience("billing"))
//	...
//	e := echo.New()
//	e.Use(asymjwtecho.Middleware(v))
//	e.GET("/invoices", func(c echo.Context) error {
//		id, _ := asymjwtecho.Identity(c)
//		return c.JSON(http.StatusOK, map[string]string{"caller": id.Username})
//	})
//
// The middleware calls [asymjwt.Verifier.VerifyRequest] on the request:
// the Authorization header, and the method, path, query and body when the
// token binds them (qsh, bh). A body read for bh is put back, so handlers
// read or bind it as usual. On success the [asymjwt.Identity] is on the
// request's context: [Identity] returns it, and so does
// [asymjwt.FromContext] on c.Request().Context(), so handlers written
// against core work unchanged.
//
// On refusal next is never called. By default the middleware returns an
// *echo.HTTPError — 401 with the WWW-Authenticate challenge set on the
// response, or 503 when a key or replay store failed — whose Message is
// only the status text and whose Internal is the reason, so the app's
// HTTPErrorHandler formats the answer and errors.Is still finds the
// sentinel. echo's DefaultHTTPErrorHandler puts Internal in the body when
// e.Debug is set: keep Debug off in production. The error's Error()
// includes Internal too, so an app HTTPErrorHandler that renders
// err.Error() sends the reason to the client: render Message. [Config]
// changes the defaults: Skipper, Optional, ErrorHandler, SuccessHandler.
//
// Per route or group, pass the middleware where echo takes middleware:
//
//	admin := e.Group("/admin", asymjwtecho.Middleware(v))
//	e.POST("/hooks", hook, asymjwtecho.Middleware(v))
//
// The same verifier's middleware can be stacked, optional on every route
// and required on a group: a request it already authenticated
// ([asymjwt.Verifier.Authenticated]) is passed on without being verified
// again, which would refuse its single-use token as a replay.
// The identity vouches for that request only, while the chain runs: one
// a context already carries from an earlier request vouches for nothing.
package asymjwtecho
