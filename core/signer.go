package asymjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

type signerConfig struct {
	alg         string
	audiences   []string
	scheme      string
	clock       func() time.Time
	bindRequest bool
	hashBody    bool
	pathPrefix  string
}

// Signer makes tokens for one username with one private key. It is safe
// for concurrent use. Each token has a fresh nonce and the current time,
// so make one per request: a token is good for one use within ±20 s.
type Signer struct {
	key     crypto.Signer
	alg     string
	hash    crypto.Hash
	cfg     signerConfig
	kid     string
	header  string // base64url of the JOSE header, the same for every token
	claims0 []byte // `{"username":...` up to the time value
	aud     []byte // `,"aud":...` or empty
}

const nonceBytes = 16 // 128 bits from crypto/rand

// NewSigner returns a Signer for username with key. The algorithm is the
// key's default unless WithAlgorithm picks another the key allows.
//
// Its tokens are in the shape the Python library asymmetric_jwt_auth makes
// and accepts, as long as the signer has no audience: that library ignores
// qsh and bh but refuses every token carrying aud (see WithAudience).
func NewSigner(username string, key crypto.Signer, opts ...SignerOption) (*Signer, error) {
	if username == "" || len(username) > maxUsernameLength {
		return nil, fmt.Errorf("asymjwt: username must be 1-%d bytes", maxUsernameLength)
	}
	if key == nil {
		return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
	}
	cfg := signerConfig{scheme: DefaultScheme, clock: time.Now}
	for _, o := range opts {
		o.applySigner(&cfg)
	}
	if cfg.scheme == "" || strings.ContainsAny(cfg.scheme, " \t") {
		return nil, errors.New("asymjwt: scheme must be one word")
	}
	pub := key.Public()
	algs, err := algorithmsFor(pub)
	if err != nil {
		return nil, err
	}
	if cfg.alg == "" {
		cfg.alg = algs[0]
	}
	if !slices.Contains(algs, cfg.alg) {
		return nil, fmt.Errorf("%w: %s does not fit the key (allowed: %v)", ErrAlgorithm, cfg.alg, algs)
	}
	kid, err := Fingerprint(pub)
	if err != nil {
		return nil, err
	}
	// Sorted keys, as PyJWT writes them.
	header, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{cfg.alg, kid, "JWT"})
	user, err := marshalJSONString(username)
	if err != nil {
		return nil, err
	}
	s := &Signer{
		key:     key,
		alg:     cfg.alg,
		hash:    hashFor(cfg.alg),
		cfg:     cfg,
		kid:     kid,
		header:  b64.EncodeToString(header),
		claims0: append(append([]byte(`{"username":`), user...), `,"time":`...),
	}
	switch len(cfg.audiences) {
	case 0:
	case 1:
		a, err := marshalJSONString(cfg.audiences[0])
		if err != nil {
			return nil, err
		}
		s.aud = append([]byte(`,"aud":`), a...)
	default:
		a, err := json.Marshal(cfg.audiences)
		if err != nil {
			return nil, err
		}
		s.aud = append([]byte(`,"aud":`), a...)
	}
	return s, nil
}

// marshalJSONString encodes s as a JSON string without HTML escaping.
func marshalJSONString(s string) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

// KeyID returns the kid sent with every token.
func (s *Signer) KeyID() string { return s.kid }

// HashesBody reports whether tokens from TokenFor, SignRequest and
// Transport carry a bh claim (WithBodyHash). Transports that cannot hash
// what they send (gRPC messages) refuse such signers.
func (s *Signer) HashesBody() bool { return s.cfg.hashBody }

// Algorithm returns the JWS alg used.
func (s *Signer) Algorithm() string { return s.alg }

// Token returns a fresh token: new nonce, current time, the audience if
// configured, bound to no request.
func (s *Signer) Token() (string, error) {
	return s.token("", "")
}

// TokenFor returns a fresh token bound to a request: qsh binds method,
// path and query; bh binds body when the signer was built WithBodyHash
// (a nil body is hashed as empty). gRPC calls use method "POST" and the
// full method name as path.
func (s *Signer) TokenFor(method, escapedPath, rawQuery string, body []byte) (string, error) {
	qsh, err := QueryStringHash(method, escapedPath, rawQuery, s.cfg.pathPrefix)
	if err != nil {
		return "", err
	}
	var bh string
	if s.cfg.hashBody {
		bh = BodyHash(body)
	}
	return s.token(qsh, bh)
}

// AuthorizationValue returns "<scheme> <token>" for an Authorization header.
func (s *Signer) AuthorizationValue(token string) string {
	return s.cfg.scheme + " " + token
}

func (s *Signer) token(qsh, bh string) (string, error) {
	var nonce [nonceBytes]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", err
	}
	payload := make([]byte, 0, 256)
	payload = append(payload, s.claims0...)
	payload = strconv.AppendInt(payload, s.cfg.clock().Unix(), 10)
	payload = append(payload, `,"nonce":"`...)
	payload = b64.AppendEncode(payload, nonce[:])
	payload = append(payload, '"')
	payload = append(payload, s.aud...)
	if qsh != "" {
		payload = append(append(append(payload, `,"qsh":"`...), qsh...), '"')
	}
	if bh != "" {
		payload = append(append(append(payload, `,"bh":"`...), bh...), '"')
	}
	payload = append(payload, '}')

	buf := make([]byte, 0, len(s.header)+1+b64.EncodedLen(len(payload))+1+700)
	buf = append(buf, s.header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	sig, err := s.sign(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// sign makes the JWS signature over input with any crypto.Signer, so keys
// held in an HSM or KMS work as well as in-memory ones.
func (s *Signer) sign(input []byte) ([]byte, error) {
	if s.alg == EdDSA {
		return s.key.Sign(rand.Reader, input, crypto.Hash(0))
	}
	h := s.hash.New()
	h.Write(input)
	digest := h.Sum(nil)
	switch s.alg[:2] {
	case "RS":
		return s.key.Sign(rand.Reader, digest, s.hash)
	case "PS":
		return s.key.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: s.hash})
	}
	der, err := s.key.Sign(rand.Reader, digest, s.hash)
	if err != nil {
		return nil, err
	}
	return ecdsaJOSESignature(der, s.key.Public().(*ecdsa.PublicKey))
}

// ecdsaJOSESignature turns an ASN.1 ECDSA signature into the JWS form: R
// and S, each left-padded to the curve's size (RFC 7518 §3.4).
func ecdsaJOSESignature(der []byte, pub *ecdsa.PublicKey) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return nil, errors.New("asymjwt: signer returned a malformed ECDSA signature")
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*size || rs.S.BitLen() > 8*size {
		return nil, errors.New("asymjwt: signer returned an out-of-range ECDSA signature")
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

func hashFor(alg string) crypto.Hash {
	switch alg {
	case RS256, PS256, ES256:
		return crypto.SHA256
	case RS384, PS384, ES384:
		return crypto.SHA384
	case RS512, PS512, ES512:
		return crypto.SHA512
	}
	return 0
}
