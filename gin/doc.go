// Package asymjwtgin authenticates gin requests with asymjwt: signed,
// single-use JWTs from services that hold a private key, checked against
// the public keys the server trusts.
//
//	v, err := asymjwt.NewVerifier(keys, asymjwt.WithAudience("billing"))
//	...
//	r := gin.New()
//	r.Use(asymjwtgin.Middleware(v))
//	r.GET("/invoices", func(c *gin.Context) {
//		id, _ := asymjwtgin.Identity(c)
//		c.JSON(http.StatusOK, gin.H{"caller": id.Username})
//	})
//
// The middleware calls [asymjwt.Verifier.VerifyRequest] on the request:
// the Authorization header, and the method, path, query and body when the
// token binds them (qsh, bh). A body read for bh is put back, so handlers
// read it as usual. On success the [asymjwt.Identity] is on the request's
// context: [Identity] returns it, and so does [asymjwt.FromContext] on
// c.Request.Context(), so handlers written against core work unchanged.
//
// On refusal the chain is aborted: no later handler runs. The default
// answer is 401 with the WWW-Authenticate challenge, or 503 when a key or
// replay store failed, with a body naming only the status; the reason is
// logged by the verifier and added to c.Errors for gin's logger. An app
// handler that renders c.Errors into the response would send the reason
// to the client: log them instead. Options change the defaults:
// [Optional], [WithSkipPaths], [WithSkipper], [WithErrorHandler],
// [WithSuccessHandler].
//
// Per route or group, pass the middleware where gin takes handlers:
//
//	admin := r.Group("/admin", asymjwtgin.Middleware(v))
//	r.POST("/hooks", asymjwtgin.Middleware(v), hook)
//
// The same verifier's middleware can be stacked, optional on every route
// and required on a group: a request it already authenticated
// ([asymjwt.Verifier.Authenticated]) is passed on without being verified
// again, which would refuse its single-use token as a replay.
// The identity vouches for that request only, while the chain runs: one
// a context already carries from an earlier request vouches for nothing.
package asymjwtgin
