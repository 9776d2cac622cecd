package asymjwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// MinRSABits and MaxRSABits bound the RSA modulus accepted anywhere: for
// signing, parsing and verification.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// Key kinds accepted by GenerateKey.
const (
	KindEd25519 = "ed25519"
	KindRSA     = "rsa" // 2048 bits
	KindRSA3072 = "rsa3072"
	KindRSA4096 = "rsa4096"
	KindP256    = "p256"
	KindP384    = "p384"
	KindP521    = "p521"
)

// GenerateKey makes a new private key of the given kind: "ed25519", "rsa"
// (2048 bits), "rsa3072", "rsa4096", "p256", "p384" or "p521".
// Ed25519 is the recommended choice: small, fast and misuse-resistant.
func GenerateKey(kind string) (crypto.Signer, error) {
	switch kind {
	case KindEd25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case KindRSA:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KindRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case KindRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case KindP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KindP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KindP521:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	}
	return nil, fmt.Errorf("%w: unknown key kind %q", ErrInvalidKey, kind)
}

// ParsePrivateKey reads a private key: PEM PKCS#1, PKCS#8, SEC1, legacy
// encrypted PEM (Proc-Type: 4,ENCRYPTED), encrypted PKCS#8 (PBES2), or an
// OpenSSH private key. passphrase is used only when the key is encrypted;
// a missing or wrong passphrase yields ErrPassphrase.
func ParsePrivateKey(data, passphrase []byte) (crypto.Signer, error) {
	data = bytes.TrimSpace(data)
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrInvalidKey)
	}
	var (
		key any
		err error
	)
	switch {
	case block.Type == "OPENSSH PRIVATE KEY":
		key, err = parseOpenSSHPrivateKey(data, passphrase)
	case block.Type == "ENCRYPTED PRIVATE KEY":
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("%w: key is encrypted", ErrPassphrase)
		}
		key, err = decryptPKCS8(block.Bytes, passphrase)
	//lint:ignore SA1019 legacy encrypted PEM is still produced by OpenSSL 1.x tooling; we only read it.
	case x509.IsEncryptedPEMBlock(block):
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("%w: key is encrypted", ErrPassphrase)
		}
		//lint:ignore SA1019 reading legacy keys, as above.
		der, derr := x509.DecryptPEMBlock(block, passphrase)
		if derr != nil {
			// DecryptPEMBlock cannot always tell a wrong passphrase from
			// corrupt data; either way the passphrase did not open the key.
			return nil, fmt.Errorf("%w: %v", ErrPassphrase, derr)
		}
		key, err = parsePrivateDER(block.Type, der)
		if err != nil {
			return nil, fmt.Errorf("%w: decrypted data is not a key", ErrPassphrase)
		}
	default:
		key, err = parsePrivateDER(block.Type, block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: unsupported private key type %T", ErrInvalidKey, key)
	}
	if err := checkPublicKey(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

func parsePrivateDER(blockType string, der []byte) (any, error) {
	var (
		key any
		err error
	)
	switch blockType {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(der)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(der)
	default:
		return nil, fmt.Errorf("%w: unsupported PEM block %q", ErrInvalidKey, blockType)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return normalizePrivate(key), nil
}

func parseOpenSSHPrivateKey(data, passphrase []byte) (any, error) {
	var (
		key any
		err error
	)
	key, err = ssh.ParseRawPrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) && len(passphrase) > 0 {
		key, err = ssh.ParseRawPrivateKeyWithPassphrase(data, passphrase)
	}
	switch {
	case errors.As(err, &missing):
		return nil, fmt.Errorf("%w: key is encrypted", ErrPassphrase)
	case errors.Is(err, x509.IncorrectPasswordError):
		return nil, fmt.Errorf("%w: %v", ErrPassphrase, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return normalizePrivate(key), nil
}

// normalizePrivate turns pointer forms some parsers return into the value
// forms the rest of the package expects.
func normalizePrivate(key any) any {
	if k, ok := key.(*ed25519.PrivateKey); ok {
		return *k
	}
	return key
}

// ParsePublicKey reads a public key: PEM SubjectPublicKeyInfo ("PUBLIC
// KEY"), PEM PKCS#1 ("RSA PUBLIC KEY"), one OpenSSH authorized_keys line,
// or a JWK (JSON object). Weak or unsupported keys yield ErrInvalidKey.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	pub, _, err := ParseAuthorizedKey(data)
	return pub, err
}

// ParseAuthorizedKey is ParsePublicKey that also returns the key's label:
// the comment of an OpenSSH line, empty for the other forms.
func ParseAuthorizedKey(data []byte) (pub crypto.PublicKey, comment string, err error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return nil, "", fmt.Errorf("%w: empty input", ErrInvalidKey)
	case data[0] == '{':
		pub, err = ParseJWK(data)
	case bytes.HasPrefix(data, []byte("-----BEGIN")):
		pub, err = parsePublicPEM(data)
	default:
		pub, comment, err = parseOpenSSHPublicKey(data)
	}
	if err != nil {
		return nil, "", err
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, "", err
	}
	return pub, comment, nil
}

func parsePublicPEM(data []byte) (crypto.PublicKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: bad PEM", ErrInvalidKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: more than one PEM block", ErrInvalidKey)
	}
	var (
		pub any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: unsupported PEM block %q", ErrInvalidKey, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return pub, nil
}

func parseOpenSSHPublicKey(line []byte) (crypto.PublicKey, string, error) {
	if bytes.IndexByte(line, '\n') >= 0 {
		return nil, "", fmt.Errorf("%w: more than one line", ErrInvalidKey)
	}
	sshPub, comment, options, _, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	// from=, command=, expiry-time= and the like restrict a key for SSH;
	// they mean nothing here, and dropping them would silently widen it.
	if len(options) > 0 {
		return nil, "", fmt.Errorf("%w: authorized_keys options (%s) are not supported", ErrInvalidKey, strings.Join(options, ","))
	}
	// Security-key types (sk-*) sign with a different construction: they
	// can never produce a JWS signature.
	cpk, ok := sshPub.(ssh.CryptoPublicKey)
	if !ok || strings.HasPrefix(sshPub.Type(), "sk-") {
		return nil, "", fmt.Errorf("%w: unsupported OpenSSH key type %s", ErrInvalidKey, sshPub.Type())
	}
	return cpk.CryptoPublicKey(), comment, nil
}

// checkPublicKey accepts the key types and sizes the protocol allows.
func checkPublicKey(pub crypto.PublicKey) error {
	_, err := algorithmsFor(pub)
	return err
}

// MarshalPublicKeyPEM encodes pub as PEM SubjectPublicKeyInfo: the text
// whose SHA-256 is the key's fingerprint.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(unpin(pub))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// MarshalPublicKeyOpenSSH encodes pub as an authorized_keys line, with
// comment appended when not empty.
func MarshalPublicKeyOpenSSH(pub crypto.PublicKey, comment string) ([]byte, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	line := bytes.TrimSuffix(ssh.MarshalAuthorizedKey(sshPub), []byte("\n"))
	if comment != "" {
		line = append(append(line, ' '), comment...)
	}
	return append(line, '\n'), nil
}

// MarshalPrivateKeyPEM encodes key as PEM PKCS#8. With a passphrase the
// result is encrypted PKCS#8 (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC),
// which OpenSSL and Python's cryptography read.
func MarshalPrivateKeyPEM(key crypto.Signer, passphrase []byte) ([]byte, error) {
	if err := checkPublicKey(key.Public()); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if len(passphrase) == 0 {
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	enc, err := encryptPKCS8(der, passphrase)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: enc}), nil
}

// Fingerprint returns the key's kid: the lowercase hex SHA-256 of its PEM
// SubjectPublicKeyInfo text, identical to the Python library's fingerprint.
func Fingerprint(pub crypto.PublicKey) (string, error) {
	p, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:]), nil
}

// Algorithm names.
const (
	RS256 = "RS256"
	RS384 = "RS384"
	RS512 = "RS512"
	PS256 = "PS256"
	PS384 = "PS384"
	PS512 = "PS512"
	ES256 = "ES256"
	ES384 = "ES384"
	ES512 = "ES512"
	EdDSA = "EdDSA"
)

var (
	rsaAlgorithms    = []string{RS512, RS384, RS256, PS512, PS384, PS256}
	p256Algorithms   = []string{ES256}
	p384Algorithms   = []string{ES384}
	p521Algorithms   = []string{ES512}
	ed25519Algorithm = []string{EdDSA}
)

// PinnedKey is a public key that may verify one algorithm only: what a
// JWK with an "alg" member describes. Key stores return *PinnedKey where
// the key's publisher pinned the algorithm.
type PinnedKey struct {
	crypto.PublicKey
	Algorithm string
}

// NewPinnedKey pins pub to alg, which must be one the key allows.
func NewPinnedKey(pub crypto.PublicKey, alg string) (*PinnedKey, error) {
	algs, err := algorithmsFor(pub)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(algs, alg) {
		return nil, fmt.Errorf("%w: alg %q does not fit the key", ErrInvalidKey, alg)
	}
	return &PinnedKey{PublicKey: pub, Algorithm: alg}, nil
}

// unpin returns the bare key under a *PinnedKey, else pub itself.
func unpin(pub crypto.PublicKey) crypto.PublicKey {
	if p, ok := pub.(*PinnedKey); ok {
		return p.PublicKey
	}
	return pub
}

// algorithmsFor returns the algorithms the key allows, the default first.
// The key decides: a token's alg is only checked against this list.
func algorithmsFor(pub crypto.PublicKey) ([]string, error) {
	switch k := pub.(type) {
	case *PinnedKey:
		algs, err := algorithmsFor(k.PublicKey)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(algs, k.Algorithm) {
			return nil, fmt.Errorf("%w: pinned alg %q does not fit the key", ErrInvalidKey, k.Algorithm)
		}
		return []string{k.Algorithm}, nil
	case *rsa.PublicKey:
		if k.N == nil || k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("%w: RSA keys need at least %d bits", ErrInvalidKey, MinRSABits)
		}
		// A huge modulus makes every (even garbage) signature check cost
		// milliseconds: a published key must not become a DoS lever.
		if k.N.BitLen() > MaxRSABits {
			return nil, fmt.Errorf("%w: RSA keys over %d bits are refused", ErrInvalidKey, MaxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return nil, fmt.Errorf("%w: bad RSA public exponent", ErrInvalidKey)
		}
		return rsaAlgorithms, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return p256Algorithms, nil
		case elliptic.P384():
			return p384Algorithms, nil
		case elliptic.P521():
			return p521Algorithms, nil
		}
		return nil, fmt.Errorf("%w: unsupported curve", ErrInvalidKey)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: bad Ed25519 key length", ErrInvalidKey)
		}
		return ed25519Algorithm, nil
	}
	return nil, fmt.Errorf("%w: unsupported key type %T", ErrInvalidKey, pub)
}

// AllowedAlgorithms returns the JWS algorithms a token signed by pub may
// use, the default first.
func AllowedAlgorithms(pub crypto.PublicKey) ([]string, error) {
	algs, err := algorithmsFor(pub)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), algs...), nil
}
