package asymjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
)

// JWK is a public JSON Web Key (RFC 7517) for RSA, EC (P-256, P-384,
// P-521) or OKP (Ed25519). Private members are never produced or read.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

var b64 = base64.RawURLEncoding

// NewJWK describes pub as a JWK with use "sig", its default algorithm and
// its fingerprint as kid — for RSA the same members, in the same form, as
// the Python library's as_jwk.
func NewJWK(pub crypto.PublicKey) (JWK, error) {
	algs, err := algorithmsFor(pub)
	if err != nil {
		return JWK{}, err
	}
	kid, err := Fingerprint(pub)
	if err != nil {
		return JWK{}, err
	}
	j := JWK{Use: "sig", Alg: algs[0], Kid: kid}
	switch k := unpin(pub).(type) {
	case *rsa.PublicKey:
		j.Kty = "RSA"
		j.N = b64.EncodeToString(k.N.Bytes())
		j.E = b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, err := k.Bytes() // 0x04 || X || Y, each padded to the field size
		if err != nil {
			return JWK{}, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		size := (len(raw) - 1) / 2
		j.Kty = "EC"
		j.Crv = k.Curve.Params().Name
		j.X = b64.EncodeToString(raw[1 : 1+size])
		j.Y = b64.EncodeToString(raw[1+size:])
	case ed25519.PublicKey:
		j.Kty = "OKP"
		j.Crv = "Ed25519"
		j.X = b64.EncodeToString(k)
	}
	return j, nil
}

// NewJWKS describes the keys as a JWKS.
func NewJWKS(pubs ...crypto.PublicKey) (*JWKS, error) {
	set := &JWKS{Keys: make([]JWK, 0, len(pubs))}
	for _, pub := range pubs {
		j, err := NewJWK(pub)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, j)
	}
	return set, nil
}

// ParseJWK reads one public JWK from JSON.
func ParseJWK(data []byte) (crypto.PublicKey, error) {
	var j JWK
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: bad JWK JSON: %v", ErrInvalidKey, err)
	}
	return j.PublicKey()
}

// PublicKey decodes the key. If the JWK names an alg, it must be one the
// key allows.
func (j JWK) PublicKey() (crypto.PublicKey, error) {
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("%w: JWK use %q is not sig", ErrInvalidKey, j.Use)
	}
	var pub crypto.PublicKey
	switch j.Kty {
	case "RSA":
		n, err := decodeJWKInt(j.N)
		if err != nil {
			return nil, err
		}
		e, err := decodeJWKInt(j.E)
		if err != nil {
			return nil, err
		}
		// The rest of the exponent's checks are checkPublicKey's.
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return nil, fmt.Errorf("%w: RSA exponent too large", ErrWeakKey)
		}
		pub = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, unsupportedKey(fmt.Sprintf("ECDSA on %q (JWK)", j.Crv))
		}
		size := (curve.Params().BitSize + 7) / 8
		x, errX := b64.DecodeString(j.X)
		y, errY := b64.DecodeString(j.Y)
		if errX != nil || errY != nil || len(x) != size || len(y) != size {
			return nil, fmt.Errorf("%w: bad EC coordinates", ErrInvalidKey)
		}
		raw := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		pub = k
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, unsupportedKey(fmt.Sprintf("%q (JWK kty OKP)", j.Crv))
		}
		x, err := b64.DecodeString(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: bad Ed25519 key", ErrInvalidKey)
		}
		pub = ed25519.PublicKey(x)
	default:
		return nil, unsupportedKey(fmt.Sprintf("JWK kty %q", j.Kty))
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	algs, _ := algorithmsFor(pub) // checked above
	if j.Alg != "" && !slices.Contains(algs, j.Alg) {
		return nil, fmt.Errorf("%w: alg %q does not fit the key", ErrInvalidKey, j.Alg)
	}
	return pub, nil
}

func decodeJWKInt(s string) (*big.Int, error) {
	b, err := b64.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%w: bad JWK integer", ErrInvalidKey)
	}
	return new(big.Int).SetBytes(b), nil
}
