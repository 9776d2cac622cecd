// Package asymjwtfiber authenticates fiber (v2) requests with asymjwt:
// signed, single-use JWTs from services that hold a private key, checked
// against the public keys the server trusts.
//
//	v, err := asymjwt.NewVerifier(keys, asymjwt.WithAudience("billing"))
//	...
//	app := fiber.New()
//	app.Use(asymjwtfiber.New(v))
//	app.Get("/invoices", func(c *fiber.Ctx) error {
//		id, _ := asymjwtfiber.Identity(c)
//		return c.JSON(fiber.Map{"caller": id.Username})
//	})
//
// Fiber runs on fasthttp, so the middleware describes the request to
// [asymjwt.Verifier.Authenticate] from fasthttp directly, without
// converting it to net/http: every Authorization header value (two are
// refused); for qsh the method, the raw query and the path of the request
// line as net/http reads it (URL.EscapedPath), as the other adapters hash
// it; for bh the raw body bytes as received, before any Content-Encoding
// is undone, read no further than the verifier's body limit (also when
// StreamRequestBody is on; a refusal then closes the connection, so that
// fasthttp cannot read the unread rest of the body as another request).
// The body
// stays readable by handlers. On success the [asymjwt.Identity] is on the
// request's user context: [Identity] returns it, and so does
// [asymjwt.FromContext] on c.UserContext(), so handlers written against
// core work unchanged. No string key is used (c.Locals is left alone).
//
// On refusal c.Next is never called. The default answer is 401 with the
// WWW-Authenticate challenge, or 503 when a key or replay store failed,
// with a body naming only the status; the reason goes to the verifier's
// log and observer. [Config] changes that: Next, Optional, ErrorHandler,
// SuccessHandler.
//
// Per route or group, pass the handler where fiber takes handlers:
//
//	admin := app.Group("/admin", asymjwtfiber.New(v))
//	app.Post("/hooks", asymjwtfiber.New(v), hook)
//
// The same verifier's handler can be stacked, optional on every route
// and required on a group: a request it already authenticated
// ([asymjwt.Verifier.Authenticated]) is passed on without being verified
// again, which would refuse its single-use token as a replay.
// The identity vouches for that request only, while the chain runs: one
// a context already carries from an earlier request vouches for nothing.
//
// To hash multipart/form-data bodies (bh), set fiber.Config's
// DisablePreParseMultipartForm: fasthttp otherwise parses such bodies
// while reading them and keeps no copy of the bytes sent, so their hash
// cannot be checked and the request is refused.
package asymjwtfiber
