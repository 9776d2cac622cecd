package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"

	ginjwt "github.com/appleboy/gin-jwt/v2"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/gin-gonic/gin"
	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/gofiber/fiber/v2"
	jwtv4 "github.com/golang-jwt/jwt/v4"
	"github.com/golang-jwt/jwt/v5"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtecho "github.com/asymjwt/asymjwt/echo"
	asymjwtfiber "github.com/asymjwt/asymjwt/fiber"
	asymjwtgin "github.com/asymjwt/asymjwt/gin"
)

// Framework IDs, as they appear in benchmark names.
const (
	Bare    = "bare"
	NetHTTP = "nethttp"
	Gin     = "gin"
	Echo    = "echo"
	Fiber   = "fiber"
)

// Frameworks are the framework IDs in table order, with their display names.
var Frameworks = []struct{ ID, Name string }{
	{Bare, "—"},
	{NetHTTP, "net/http"},
	{Gin, "gin v1.12.0"},
	{Echo, "echo v4.16.0"},
	{Fiber, "fiber v2.52.15"},
}

// FrameworkName returns the display name of a framework ID.
func FrameworkName(id string) string {
	for _, f := range Frameworks {
		if f.ID == id {
			return f.Name
		}
	}
	return id
}

// Checks says what a case refuses beyond a bad signature or a foreign
// key. The tests prove every line of it, both ways.
type Checks struct {
	// Replay: a token presented a second time is refused.
	Replay bool
	// Expiry: a token past its lifetime is refused (peers: exp in the
	// past; asymjwt: time claim outside ±20 s).
	Expiry bool
	// Audience: a token for another service (aud) is refused.
	Audience bool
	// Binding: a token bound to another request (a qsh claim for another
	// path) is refused.
	Binding bool
	// RequireBinding: a token bound to no request is refused.
	RequireBinding bool
}

// Case is one row of the peer table: one library, on one framework, with
// one algorithm.
type Case struct {
	Alg string
	// LibID and Framework name the case in benchmark names:
	// Alg/LibID/Framework.
	LibID, Framework string
	// Library is the display name.
	Library string
	// Fresh cases (asymjwt) refuse replays: they need a new token per
	// request. Bound ones need tokens carrying qsh and bh.
	Fresh, Bound bool
	// Scheme prefixes the token in the Authorization value; empty for
	// bare cases, which take the token itself.
	Scheme string
	Checks Checks
	// New builds the case's target: its verifier, middleware and route.
	// asymjwt targets start with an empty replay store and Clock.
	New func(Key) (Target, error)
}

// Name is the case's benchmark name below BenchmarkAuth.
func (c Case) Name() string { return c.Alg + "/" + c.LibID + "/" + c.Framework }

// Credential returns what the case presents for token.
func (c Case) Credential(token string) string { return c.Scheme + token }

var (
	asymjwtChecks = Checks{Replay: true, Expiry: true, Audience: true, Binding: true}
	strictChecks  = Checks{Replay: true, Expiry: true, Audience: true, Binding: true, RequireBinding: true}
)

// Cases returns every row, in table order: per algorithm, the floor and
// the bare verifiers, then each framework with its peer before asymjwt.
func Cases() []Case {
	var cs []Case
	for _, alg := range Algorithms {
		cs = append(cs,
			Case{Alg: alg, LibID: "floor", Framework: Bare,
				Library: "floor: bare signature check", New: newFloor},
			Case{Alg: alg, LibID: "golang-jwt", Framework: Bare,
				Library: "golang-jwt/jwt v5.3.1 ParseWithClaims", Checks: Checks{Expiry: true, Audience: true},
				New: newGolangJWT},
			Case{Alg: alg, LibID: "asymjwt", Framework: Bare,
				Library: "asymjwt Verify", Fresh: true, Checks: asymjwtChecks, New: newAsymjwtVerify},
			Case{Alg: alg, LibID: "auth0", Framework: NetHTTP, Scheme: "Bearer ",
				Library: "auth0/go-jwt-middleware v2.3.1", Checks: Checks{Expiry: true, Audience: true},
				New: newAuth0},
			Case{Alg: alg, LibID: "asymjwt", Framework: NetHTTP, Scheme: "JWT ",
				Library: "asymjwt Middleware", Fresh: true, Checks: asymjwtChecks, New: newAsymjwtHTTP(false)},
			Case{Alg: alg, LibID: "asymjwt-strict", Framework: NetHTTP, Scheme: "JWT ",
				Library: "asymjwt Middleware, strict (qsh+bh required)", Fresh: true, Bound: true,
				Checks: strictChecks, New: newAsymjwtHTTP(true)},
		)
		// gin-jwt documents HS* and RS* only.
		if alg == asymjwt.RS256 {
			cs = append(cs, Case{Alg: alg, LibID: "gin-jwt", Framework: Gin, Scheme: "Bearer ",
				Library: "appleboy/gin-jwt v2.10.3", Checks: Checks{Expiry: true}, New: newGinJWT})
		}
		cs = append(cs, Case{Alg: alg, LibID: "asymjwt", Framework: Gin, Scheme: "JWT ",
			Library: "asymjwt (asymjwtgin)", Fresh: true, Checks: asymjwtChecks, New: newAsymjwtGin})
		cs = append(cs,
			Case{Alg: alg, LibID: "echo-jwt", Framework: Echo, Scheme: "Bearer ",
				Library: "labstack/echo-jwt v4.4.0", Checks: Checks{Expiry: true}, New: newEchoJWT},
			Case{Alg: alg, LibID: "asymjwt", Framework: Echo, Scheme: "JWT ",
				Library: "asymjwt (asymjwtecho)", Fresh: true, Checks: asymjwtChecks, New: newAsymjwtEcho},
			Case{Alg: alg, LibID: "jwtware", Framework: Fiber, Scheme: "Bearer ",
				Library: "gofiber/contrib/jwt v1.1.2", Checks: Checks{Expiry: true}, New: newJwtware},
			Case{Alg: alg, LibID: "asymjwt", Framework: Fiber, Scheme: "JWT ",
				Library: "asymjwt (asymjwtfiber)", Fresh: true, Checks: asymjwtChecks, New: newAsymjwtFiber},
		)
	}
	return cs
}

// Baselines are the frameworks' own cost: the same route, no middleware.
func Baselines() []Case {
	return []Case{
		{LibID: "none", Framework: NetHTTP, Library: "none", New: func(Key) (Target, error) {
			return newHTTPTarget(http.HandlerFunc(okHTTP)), nil
		}},
		{LibID: "none", Framework: Gin, Library: "none", New: func(Key) (Target, error) {
			return newHTTPTarget(ginEngine()), nil
		}},
		{LibID: "none", Framework: Echo, Library: "none", New: func(Key) (Target, error) {
			return newHTTPTarget(echoServer()), nil
		}},
		{LibID: "none", Framework: Fiber, Library: "none", New: func(Key) (Target, error) {
			return newFasthttpTarget(fiberApp().Handler()), nil
		}},
	}
}

// Route handlers: Handled and nothing else, the same on every framework.
func okHTTP(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(Handled) }
func okGin(c *gin.Context)                          { c.Status(Handled) }
func okEcho(c echo.Context) error                   { return c.NoContent(Handled) }
func okFiber(c *fiber.Ctx) error                    { return c.SendStatus(Handled) }

// ginEngine, echoServer and fiberApp return the framework with the route
// behind mw (none: no middleware). gin.New, echo.New and fiber.New add no
// middleware of their own (no logger, no recovery).
func ginEngine(mw ...gin.HandlerFunc) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(mw...)
	r.GET(Path, okGin)
	return r
}

func echoServer(mw ...echo.MiddlewareFunc) *echo.Echo {
	e := echo.New()
	e.Use(mw...)
	e.GET(Path, okEcho)
	return e
}

func fiberApp(mw ...fiber.Handler) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	for _, m := range mw {
		app.Use(m)
	}
	app.Get(Path, okFiber)
	return app
}

// newFloor is the least any verifier must do: split the token, decode the
// signature, hash the signing input and check the signature with the
// standard library. No header, no claims, no key lookup.
func newFloor(key Key) (Target, error) {
	var check func(input string, sig []byte) error
	switch pub := key.Public.(type) {
	case *rsa.PublicKey:
		check = func(input string, sig []byte) error {
			h := sha256.Sum256([]byte(input))
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig)
		}
	case *ecdsa.PublicKey:
		check = func(input string, sig []byte) error {
			if len(sig) != 64 {
				return errors.New("bench: bad ES256 signature length")
			}
			h := sha256.Sum256([]byte(input))
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			if !ecdsa.Verify(pub, h[:], r, s) {
				return errors.New("bench: bad signature")
			}
			return nil
		}
	case ed25519.PublicKey:
		check = func(input string, sig []byte) error {
			if !ed25519.Verify(pub, []byte(input), sig) {
				return errors.New("bench: bad signature")
			}
			return nil
		}
	default:
		return nil, fmt.Errorf("bench: no floor for %T", key.Public)
	}
	return verifyFunc(func(token string) error {
		dot := strings.LastIndexByte(token, '.')
		if dot < 0 {
			return errors.New("bench: not a JWS")
		}
		sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
		if err != nil {
			return err
		}
		return check(token[:dot], sig)
	}), nil
}

// golangJWTClaims is the claims type of the golang-jwt case, as its README
// shows: registered claims embedded, the custom ones beside.
type golangJWTClaims struct {
	jwt.RegisteredClaims
	Username string `json:"username"`
	Time     int64  `json:"time"`
	Nonce    string `json:"nonce"`
}

// newGolangJWT is golang-jwt's ParseWithClaims with the options its docs
// recommend: pinned algorithm, audience, issuer, expiry required.
func newGolangJWT(key Key) (Target, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{key.Alg}),
		jwt.WithAudience(Audience),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
	}
	keyFunc := func(*jwt.Token) (any, error) { return key.Public, nil }
	return verifyFunc(func(token string) error {
		_, err := jwt.ParseWithClaims(token, &golangJWTClaims{}, keyFunc, opts...)
		return err
	}), nil
}

// newAuth0 is auth0's validator with the key returned by keyFunc, as its
// README sets it up, and its net/http middleware.
func newAuth0(key Key) (Target, error) {
	v, err := validator.New(
		func(context.Context) (any, error) { return key.Public, nil },
		validator.SignatureAlgorithm(key.Alg),
		Issuer,
		[]string{Audience},
	)
	if err != nil {
		return nil, err
	}
	return newHTTPTarget(jwtmiddleware.New(v.ValidateToken).CheckJWT(http.HandlerFunc(okHTTP))), nil
}

// newEchoJWT is echo-jwt with the public key and its algorithm.
func newEchoJWT(key Key) (Target, error) {
	return newHTTPTarget(echoServer(echojwt.WithConfig(echojwt.Config{
		SigningKey:    key.Public,
		SigningMethod: key.Alg,
	}))), nil
}

// newJwtware is gofiber/contrib/jwt as its README's RS256 example sets it
// up: a SigningKey with JWTAlg and the public key.
func newJwtware(key Key) (Target, error) {
	return newFasthttpTarget(fiberApp(jwtware.New(jwtware.Config{
		SigningKey: jwtware.SigningKey{JWTAlg: key.Alg, Key: key.Public},
	})).Handler()), nil
}

// newGinJWT is gin-jwt's verifying middleware. Its RS256 mode loads a
// private key too (for its login handler); a verify-only service gives it
// a KeyFunc instead, which checks the algorithm as gin-jwt's own would.
func newGinJWT(key Key) (Target, error) {
	method := jwtv4.GetSigningMethod(key.Alg)
	mw, err := ginjwt.New(&ginjwt.GinJWTMiddleware{
		Realm:            "bench",
		SigningAlgorithm: key.Alg,
		IdentityKey:      "username",
		KeyFunc: func(t *jwtv4.Token) (any, error) {
			if t.Method != method {
				return nil, ginjwt.ErrInvalidSigningAlgorithm
			}
			return key.Public, nil
		},
	})
	if err != nil {
		return nil, err
	}
	return newHTTPTarget(ginEngine(mw.MiddlewareFunc())), nil
}

// NewVerifier returns asymjwt's verifier for the benchmark: the client's
// key in a MemoryKeyStore, the service's audience required, a new memory
// replay store, and Clock. strict also requires qsh and bh.
func NewVerifier(key Key, strict bool) (*asymjwt.Verifier, error) {
	ks := asymjwt.NewMemoryKeyStore()
	if _, err := ks.Add(Username, key.Public); err != nil {
		return nil, err
	}
	opts := []asymjwt.VerifierOption{
		asymjwt.WithAudience(Audience),
		asymjwt.RequireAudience(),
		asymjwt.WithClock(Clock()),
	}
	if strict {
		opts = append(opts, asymjwt.RequireRequestBinding(), asymjwt.RequireBodyHash())
	}
	return asymjwt.NewVerifier(ks, opts...)
}

func newAsymjwtVerify(key Key) (Target, error) {
	v, err := NewVerifier(key, false)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	return verifyFunc(func(token string) error {
		_, err := v.Verify(ctx, token)
		return err
	}), nil
}

func newAsymjwtHTTP(strict bool) func(Key) (Target, error) {
	return func(key Key) (Target, error) {
		v, err := NewVerifier(key, strict)
		if err != nil {
			return nil, err
		}
		return newHTTPTarget(v.Middleware(http.HandlerFunc(okHTTP))), nil
	}
}

func newAsymjwtGin(key Key) (Target, error) {
	v, err := NewVerifier(key, false)
	if err != nil {
		return nil, err
	}
	return newHTTPTarget(ginEngine(asymjwtgin.Middleware(v))), nil
}

func newAsymjwtEcho(key Key) (Target, error) {
	v, err := NewVerifier(key, false)
	if err != nil {
		return nil, err
	}
	return newHTTPTarget(echoServer(asymjwtecho.Middleware(v))), nil
}

func newAsymjwtFiber(key Key) (Target, error) {
	v, err := NewVerifier(key, false)
	if err != nil {
		return nil, err
	}
	return newFasthttpTarget(fiberApp(asymjwtfiber.New(v)).Handler()), nil
}
