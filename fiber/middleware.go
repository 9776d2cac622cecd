package asymjwtfiber

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/gofiber/fiber/v2"
)

// Config configures New.
type Config struct {
	// Next lets requests for which it returns true through unchecked.
	// Default: nil (check every request).
	Next func(c *fiber.Ctx) bool

	// Optional lets requests without credentials through anonymously:
	// Identity reports false for them. Requests that present credentials
	// must still pass: invalid credentials are refused, never downgraded,
	// and a store failure is still a 503.
	Optional bool

	// ErrorHandler replaces the answer to a refused request. err matches
	// asymjwt's sentinels with errors.Is, and asymjwt.StatusCode(err)
	// gives the default status; do not send err to the client. What it
	// returns is returned by the handler, to fiber's ErrorHandler when not
	// nil. If it returns nil and left the response untouched (status 200,
	// no body), the default refusal is sent, so that a handler that only
	// logs cannot turn a refusal into an empty 200. c.Next is never called
	// for a refused request.
	ErrorHandler fiber.ErrorHandler

	// SuccessHandler runs after a request was authenticated, with its
	// identity already on the context, before c.Next. An error it returns
	// stops the chain and is returned by the handler.
	SuccessHandler func(c *fiber.Ctx, id *asymjwt.Identity) error
}

var authorization = []byte(fiber.HeaderAuthorization)

// New returns a fiber handler that authenticates each request with v. It
// panics if v is nil.
func New(v *asymjwt.Verifier, config ...Config) fiber.Handler {
	if v == nil {
		panic("asymjwtfiber: New needs a *asymjwt.Verifier")
	}
	var cfg Config
	if len(config) > 0 {
		cfg = config[0]
	}
	refuse := func(c *fiber.Ctx, err error) error {
		status := asymjwt.StatusCode(err)
		if status == http.StatusUnauthorized {
			c.Set(fiber.HeaderWWWAuthenticate, v.Challenge())
		}
		return c.SendStatus(status)
	}
	if custom := cfg.ErrorHandler; custom != nil {
		cfg.ErrorHandler = func(c *fiber.Ctx, err error) error {
			if herr := custom(c, err); herr != nil || answered(c) {
				return herr
			}
			return refuse(c, err)
		}
	} else {
		cfg.ErrorHandler = refuse
	}
	return func(c *fiber.Ctx) error {
		// Every value, matched case-insensitively whatever fiber's header
		// normalization, so that two credentials are seen and refused.
		var values []string
		c.Request().Header.VisitAll(func(key, value []byte) {
			if bytes.EqualFold(key, authorization) {
				values = append(values, string(value))
			}
		})
		ctx := c.UserContext()
		if _, ok := v.Authenticated(ctx, values); ok {
			return c.Next() // an outer layer of this middleware already did it, for this request
		}
		if cfg.Next != nil && cfg.Next(c) {
			anonymous(c, ctx)
			return c.Next()
		}
		id, err := v.Authenticate(ctx, values, request(c))
		switch {
		case err == nil:
			// Vouched for until the chain returns: a RequestCtx reused for
			// the next request (fasthttp) still carries the identity, which
			// then vouches for nothing.
			ctx, end := v.NewRequestContext(ctx, id)
			defer end()
			c.SetUserContext(ctx)
			if cfg.SuccessHandler != nil {
				if err := cfg.SuccessHandler(c, id); err != nil {
					return err
				}
			}
		case cfg.Optional && asymjwt.IsAnonymous(err):
			anonymous(c, ctx)
		default:
			if c.Request().IsBodyStream() {
				// fasthttp (StreamRequestBody) would read what is left of
				// the unread body as the next request on the connection.
				c.Context().SetConnectionClose()
			}
			return cfg.ErrorHandler(c, err)
		}
		return c.Next()
	}
}

// anonymous hides from the rest of the chain an identity ctx, c's user
// context, carried that this middleware did not verify for the request
// (one left on a reused RequestCtx).
func anonymous(c *fiber.Ctx, ctx context.Context) {
	if anon := asymjwt.WithoutIdentity(ctx); anon != ctx {
		c.SetUserContext(anon)
	}
}

// answered reports whether the response was written to: a status other
// than fiber's default 200, or a body.
func answered(c *fiber.Ctx) bool {
	res := c.Response()
	return res.StatusCode() != fiber.StatusOK || res.IsBodyStream() || len(res.Body()) > 0
}

// request describes c for qsh and bh as the client sent it: the path of
// the request line as net/http reads it, and the raw query.
func request(c *fiber.Ctx) *asymjwt.Request {
	uri := c.Request().URI()
	return &asymjwt.Request{
		Method:   c.Method(),
		Path:     escapedPath(uri.PathOriginal()),
		RawQuery: string(uri.QueryString()),
		Body:     func(limit int64) ([]byte, error) { return body(c, limit) },
	}
}

// escapedPath returns what net/http's URL.EscapedPath gives for raw, the
// path of a request line, which clients sign: raw itself when every byte
// is one EscapedPath keeps, so the adapters agree on paths such as
// "/a{b}" that it re-escapes ("/a%7Bb%7D").
func escapedPath(raw []byte) string {
	if keptAsSent(raw) {
		return string(raw)
	}
	u, err := url.ParseRequestURI(string(raw))
	if err != nil {
		// net/http refuses such a request line; only a client that signs
		// the path as sent can match it.
		return string(raw)
	}
	return u.EscapedPath()
}

// keptAsSent reports whether p holds only bytes URL.EscapedPath leaves
// as they are: unreserved, sub-delims, ':', '@', '[', ']', '/' and valid
// %XX escapes.
func keptAsSent(p []byte) bool {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@[]/", c) >= 0:
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

var errMultipart = errors.New("asymjwtfiber: fasthttp parsed the multipart body and kept no copy of the bytes sent; set fiber.Config.DisablePreParseMultipartForm to check its hash")

// body returns the request body as received (still content-encoded: bh
// covers the bytes sent), reading no more than limit.
func body(c *fiber.Ctx, limit int64) ([]byte, error) {
	req := c.Request()
	if n := req.Header.ContentLength(); int64(n) > limit {
		return nil, fmt.Errorf("%w: Content-Length %d, limit %d", asymjwt.ErrBodyTooLarge, n, limit)
	}
	if req.IsBodyStream() {
		// StreamRequestBody: read at most limit+1 bytes, then keep them as
		// the body the handler reads.
		n := limit
		if n < math.MaxInt64 {
			n++ // one byte more than allowed tells "too large" from "exactly the limit"
		}
		data, err := io.ReadAll(io.LimitReader(req.BodyStream(), n))
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("%w: more than %d bytes", asymjwt.ErrBodyTooLarge, limit)
		}
		req.SetBodyRaw(data)
		return data, nil
	}
	if preParsedMultipart(c) {
		return nil, errMultipart
	}
	data := req.Body()
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", asymjwt.ErrBodyTooLarge, limit)
	}
	return data, nil
}

// preParsedMultipart reports whether fasthttp parsed the body as a
// multipart form while reading it, which it does, keeping no raw copy,
// for a body of known length with a boundary and no Content-Encoding
// unless the app disables it (fasthttp's Request.ContinueReadBody).
func preParsedMultipart(c *fiber.Ctx) bool {
	h := &c.Request().Header
	return len(h.MultipartFormBoundary()) > 0 && h.ContentLength() > 0 && len(h.ContentEncoding()) == 0 &&
		!c.App().Config().DisablePreParseMultipartForm
}

// Identity returns the identity the middleware authenticated; false for
// an anonymous request (optional mode, skipped requests) or one that
// never passed the middleware.
func Identity(c *fiber.Ctx) (*asymjwt.Identity, bool) {
	return asymjwt.FromContext(c.UserContext())
}
