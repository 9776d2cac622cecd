package asymjwt

import (
	"bytes"
	"crypto"
	//lint:ignore SA1019 only to name DSA keys in errors.
	"crypto/dsa"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
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
//
// A PEM file may hold several blocks, as OpenSSL and TLS tools write
// them: an "EC PARAMETERS" block (openssl ecparam -genkey) must name the
// key's curve; certificates and other blocks that are not keys are
// skipped; a public key block must be the private key's own. A file with
// two different private keys is ambiguous and refused. An unsupported
// key type (DSA, X25519, Ed448, secp256k1, ...) is named in the error.
func ParsePrivateKey(data, passphrase []byte) (crypto.Signer, error) {
	data = bytes.TrimSpace(bytes.TrimPrefix(data, utf8BOM))
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, err
	}
	if len(blocks) == 0 {
		if _, _, err := ParseAuthorizedKey(data); err == nil {
			return nil, errPublicNotPrivate
		}
		return nil, fmt.Errorf("%w: no PEM block found", ErrInvalidKey)
	}
	var (
		signer  crypto.Signer
		publics []*pem.Block
		params  []*pem.Block
		others  []string
	)
	for _, block := range blocks {
		switch {
		case block.Type == ecParametersBlock:
			params = append(params, block)
		case isPublicKeyBlock(block.Type):
			publics = append(publics, block)
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			key, err := parsePrivateBlock(block, passphrase)
			if err != nil {
				return nil, err
			}
			if signer != nil && !samePublicKey(signer.Public(), key.Public()) {
				return nil, fmt.Errorf("%w: the file holds two different private keys: keep one key per file", ErrInvalidKey)
			}
			if signer == nil {
				signer = key
			}
		default:
			others = append(others, block.Type)
		}
	}
	if signer == nil {
		if len(publics) > 0 {
			return nil, errPublicNotPrivate
		}
		return nil, fmt.Errorf("%w: no private key among the PEM blocks (%s)", ErrInvalidKey, strings.Join(others, ", "))
	}
	for _, block := range publics {
		pub, err := parsePublicBlock(block)
		if err != nil {
			return nil, err
		}
		if !samePublicKey(pub, signer.Public()) {
			return nil, fmt.Errorf("%w: the file holds a public key that is not the private key's: keep one key per file", ErrInvalidKey)
		}
	}
	for _, pub := range keysBesideBlocks(data) {
		if !samePublicKey(pub, signer.Public()) {
			return nil, fmt.Errorf("%w: the file holds a public key (a text line beside the PEM blocks) that is not the private key's: keep one key per file", ErrInvalidKey)
		}
	}
	if err := checkECParameters(params, signer.Public()); err != nil {
		return nil, err
	}
	if err := checkPublicKey(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// errPublicNotPrivate answers a public key given where a private key is
// needed.
var errPublicNotPrivate = fmt.Errorf("%w: this is a public key; a private key is needed", ErrInvalidKey)

// ecParametersBlock is the block openssl ecparam writes before the key.
const ecParametersBlock = "EC PARAMETERS"

// pemBlocks returns every PEM block in data; text around them (openssl
// writes some) is skipped. pem.Decode also skips, silently, a block that
// does not decode (damaged base64, a missing END, another BEGIN inside
// it) and goes on to the next: a file whose first key is damaged would
// yield the second. So every BEGIN line must start a block that decodes.
func pemBlocks(data []byte) ([]*pem.Block, error) {
	begins := 0
	for line := range bytes.Lines(data) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("-----BEGIN ")) {
			begins++
		}
	}
	var blocks []*pem.Block
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		blocks = append(blocks, block)
		data = rest
	}
	if len(blocks) != begins {
		return nil, fmt.Errorf("%w: %d of %d PEM blocks do not decode (damaged, cut short, or with another block inside)", ErrInvalidKey, begins-len(blocks), begins)
	}
	return blocks, nil
}

// utf8BOM starts text saved by some Windows editors; it is not part of
// the key.
var utf8BOM = []byte("\xef\xbb\xbf")

func isPublicKeyBlock(typ string) bool {
	return typ == "PUBLIC KEY" || typ == "RSA PUBLIC KEY"
}

// samePublicKey reports whether a and b are the same key.
func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := unpin(a).(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(unpin(b))
}

// parsePrivateBlock reads one private key block.
func parsePrivateBlock(block *pem.Block, passphrase []byte) (crypto.Signer, error) {
	var (
		key any
		err error
	)
	switch {
	case block.Type == "OPENSSH PRIVATE KEY":
		key, err = parseOpenSSHPrivateKey(pem.EncodeToMemory(block), passphrase)
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
		var unsupported *unsupportedKeyError
		if err != nil && !errors.As(err, &unsupported) {
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
		return nil, unsupportedKey(keyTypeName(key))
	}
	// An Ed25519 private key carries its public half; crypto/ed25519 signs
	// with it as stored. A stored half that is not the seed's own key
	// makes signatures that do not verify, and signatures of one message
	// under two halves reveal the private scalar.
	if k, ok := signer.(ed25519.PrivateKey); ok && len(k) == ed25519.PrivateKeySize &&
		!bytes.Equal(ed25519.NewKeyFromSeed(k.Seed())[32:], k[32:]) {
		return nil, fmt.Errorf("%w: the Ed25519 private key's public half is not its own", ErrInvalidKey)
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
		// "DSA PRIVATE KEY" and the like: name the type.
		return nil, unsupportedKey(strings.TrimSuffix(strings.TrimSuffix(blockType, "PRIVATE KEY"), " ") + fmt.Sprintf(" (PEM %q)", blockType))
	}
	if err != nil {
		if name := describeKeyDER(blockType, der); name != "" {
			return nil, unsupportedKey(name)
		}
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
		if typ := openSSHPrivateKeyType(data); typ != "" && !slices.Contains(sshKeyTypes, typ) {
			return nil, unsupportedKey(sshKeyTypeName(typ))
		}
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
// or a JWK (JSON object). Unsupported keys yield ErrInvalidKey, weak keys
// (an Ed25519 key of small order, say) ErrWeakKey, which wraps it. PEM
// text may hold several blocks, read as ParsePrivateKey reads them.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	pub, _, err := ParseAuthorizedKey(data)
	return pub, err
}

// ParseAuthorizedKey is ParsePublicKey that also returns the key's label:
// the comment of an OpenSSH line, empty for the other forms.
func ParseAuthorizedKey(data []byte) (pub crypto.PublicKey, comment string, err error) {
	data = bytes.TrimSpace(bytes.TrimPrefix(data, utf8BOM))
	switch {
	case len(data) == 0:
		return nil, "", fmt.Errorf("%w: empty input", ErrInvalidKey)
	case data[0] == '{':
		pub, err = ParseJWK(data)
	case bytes.Contains(data, []byte("-----BEGIN ")):
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

// parsePublicPEM reads the public key of PEM text that may hold several
// blocks: an "EC PARAMETERS" block must name the key's curve, the same
// key may appear more than once, certificates and other blocks that are
// not keys are skipped. Two different keys, or a private key, are
// refused.
func parsePublicPEM(data []byte) (crypto.PublicKey, error) {
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, err
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%w: bad PEM", ErrInvalidKey)
	}
	var (
		pub    crypto.PublicKey
		params []*pem.Block
		others []string
	)
	for _, block := range blocks {
		switch {
		case block.Type == ecParametersBlock:
			params = append(params, block)
		case isPublicKeyBlock(block.Type):
			p, err := parsePublicBlock(block)
			if err != nil {
				return nil, err
			}
			if pub != nil && !samePublicKey(pub, p) {
				return nil, fmt.Errorf("%w: the PEM holds two different public keys: give one key", ErrInvalidKey)
			}
			pub = p
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			return nil, fmt.Errorf("%w: this is a private key (PEM %q): give its public key", ErrInvalidKey, block.Type)
		default:
			others = append(others, block.Type)
		}
	}
	if pub == nil {
		hint := ""
		if slices.Contains(others, "CERTIFICATE") {
			hint = "; a certificate's key is not read as a key: extract it with openssl x509 -pubkey -noout"
		}
		return nil, fmt.Errorf("%w: no public key among the PEM blocks (%s)%s", ErrInvalidKey, strings.Join(others, ", "), hint)
	}
	for _, k := range keysBesideBlocks(data) {
		if !samePublicKey(pub, k) {
			return nil, fmt.Errorf("%w: the PEM holds two different public keys (one as a text line beside the blocks): give one key", ErrInvalidKey)
		}
	}
	if err := checkECParameters(params, pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// keysBesideBlocks returns the public keys written as text outside the
// PEM blocks of data: OpenSSH authorized_keys lines and one-line JWKs
// (cat id.pub key.pem > file). pem.Decode skips such text, as it skips
// the dumps openssl writes around blocks; a key there must not be
// ignored while another is used, or a file that shows one key to a
// reader would register another.
func keysBesideBlocks(data []byte) []crypto.PublicKey {
	var (
		keys    []crypto.PublicKey
		inBlock bool
	)
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		switch {
		case bytes.HasPrefix(line, []byte("-----BEGIN ")):
			inBlock = true
		case bytes.HasPrefix(line, []byte("-----END ")):
			inBlock = false
		case inBlock || len(line) == 0:
		case line[0] == '{':
			if k, err := ParseJWK(line); err == nil {
				keys = append(keys, k)
			}
		default:
			if k, _, err := parseOpenSSHPublicKey(line); err == nil {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// parsePublicBlock reads one "PUBLIC KEY" or "RSA PUBLIC KEY" block.
func parsePublicBlock(block *pem.Block) (crypto.PublicKey, error) {
	var (
		pub any
		err error
	)
	if block.Type == "RSA PUBLIC KEY" {
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	} else {
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		if name := describeKeyDER(block.Type, block.Bytes); name != "" {
			return nil, unsupportedKey(name)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if !isSupportedKeyType(pub) {
		return nil, unsupportedKey(keyTypeName(pub))
	}
	return pub, nil
}

func parseOpenSSHPublicKey(line []byte) (crypto.PublicKey, string, error) {
	if bytes.IndexByte(line, '\n') >= 0 {
		return nil, "", fmt.Errorf("%w: more than one line", ErrInvalidKey)
	}
	sshPub, comment, options, _, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		if typ := openSSHLineKeyType(line); typ != "" && !slices.Contains(sshKeyTypes, typ) {
			return nil, "", unsupportedKey(sshKeyTypeName(typ))
		}
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
	if !ok || !slices.Contains(sshKeyTypes, sshPub.Type()) {
		return nil, "", unsupportedKey(sshKeyTypeName(sshPub.Type()))
	}
	return cpk.CryptoPublicKey(), comment, nil
}

// checkPublicKey is the check every public key passes where it enters:
// parsing (PEM, OpenSSH, JWK, JWKS), key stores, signers, private keys
// (their public half). It accepts the key types and sizes the protocol
// allows and refuses weak keys with ErrWeakKey: on top of the per-use
// checks of algorithmsFor (Ed25519 keys of small order or in
// non-canonical encoding, RSA exponent and modulus parity) it checks what
// costs too much for every verification: that an Ed25519 key decodes to
// a curve point, that an ECDSA key is a valid point of its curve (not the
// point at infinity, coordinates reduced), and that an RSA modulus has no
// prime factor below 1000.
func checkPublicKey(pub crypto.PublicKey) error {
	if _, err := algorithmsFor(pub); err != nil {
		return err
	}
	switch k := unpin(pub).(type) {
	case *rsa.PublicKey:
		if new(big.Int).GCD(nil, nil, k.N, smallPrimesProduct).Cmp(bigOne) != 0 {
			return fmt.Errorf("%w: RSA modulus has a small prime factor", ErrWeakKey)
		}
	case *ecdsa.PublicKey:
		// crypto/ecdsa refuses the point at infinity, points off the
		// curve and unreduced or negative coordinates (SEC 1 v2 §3.2.2.1).
		//lint:ignore SA1019 a key built in code may lack coordinates, and Bytes would panic.
		if k.X == nil || k.Y == nil {
			return fmt.Errorf("%w: ECDSA key without coordinates", ErrInvalidKey)
		}
		if _, err := k.Bytes(); err != nil {
			return fmt.Errorf("%w: ECDSA key is not a valid point of %s: %v", ErrWeakKey, k.Curve.Params().Name, err)
		}
	case ed25519.PublicKey:
		if !ed25519OnCurve(k) {
			return fmt.Errorf("%w: Ed25519 key is not a curve point", ErrInvalidKey)
		}
	}
	return nil
}

var (
	bigOne = big.NewInt(1)
	// smallPrimesProduct is the product of the primes 3 to 997: a modulus
	// sharing a factor with it is factored at once. (2 is refused by the
	// parity check.)
	smallPrimesProduct = func() *big.Int {
		p := big.NewInt(1)
		for n := int64(3); n < 1000; n += 2 {
			if big.NewInt(n).ProbablyPrime(0) {
				p.Mul(p, big.NewInt(n))
			}
		}
		return p
	}()
)

// Ed25519 weak keys. An Ed25519 public key A of small order (a multiple
// of it is the identity: 8A = 0) lets anyone forge: with A the identity,
// the signature R = identity, S = 0 satisfies [S]B = R + [k]A for every
// message, and crypto/ed25519 (like RFC 8032's cofactorless check)
// accepts it. The curve has 8 points of small order, with 5 distinct y
// coordinates: 1 (the identity), p-1 (order 2), 0 (order 4, both signs of
// x) and two of order 8 (both signs of x each). Their encodings, as
// libsodium lists them in ge25519_has_small_order
// (src/libsodium/crypto_core/ed25519/ref10/ed25519_ref10.c), are below:
// the canonical ones and the two non-canonical ones (y+p for y = 0, 1;
// y+p overflows 255 bits for the others). The top bit of the last byte is
// the sign of x and is ignored in the comparison, so the 14 encodings with
// either sign, including "negative zero" for x = 0, are all refused.
var ed25519SmallOrder = [...][ed25519.PublicKeySize]byte{
	hex32("0000000000000000000000000000000000000000000000000000000000000000"), // y = 0, order 4
	hex32("0100000000000000000000000000000000000000000000000000000000000000"), // y = 1, identity
	hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), // order 8
	hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), // order 8
	hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p-1, order 2
	hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p ≡ 0, order 4
	hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p+1 ≡ 1, identity
}

func hex32(s string) (b [ed25519.PublicKeySize]byte) {
	if n, err := hex.Decode(b[:], []byte(s)); err != nil || n != len(b) {
		panic("asymjwt: bad constant " + s)
	}
	return b
}

// checkEd25519 refuses the encodings of small-order points (any sign bit)
// and non-canonical encodings (y >= p = 2^255-19), which no honest key
// generation produces and which RFC 8032 §5.1.3 says to reject; libsodium
// rejects both in crypto_sign_verify_detached. Cheap enough for every
// verification.
func checkEd25519(k ed25519.PublicKey) error {
	if len(k) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: bad Ed25519 key length", ErrInvalidKey)
	}
	for i := range ed25519SmallOrder {
		w := &ed25519SmallOrder[i]
		if bytes.Equal(k[:31], w[:31]) && k[31]&0x7f == w[31] {
			return fmt.Errorf("%w: Ed25519 key of small order", ErrWeakKey)
		}
	}
	// y >= p: bytes 1..30 all 0xff, top byte 0x7f (sign bit masked), and
	// byte 0 >= 0xed.
	if k[31]&0x7f == 0x7f && k[0] >= 0xed && bytes.Count(k[1:31], []byte{0xff}) == 30 {
		return fmt.Errorf("%w: non-canonical Ed25519 key encoding", ErrWeakKey)
	}
	return nil
}

var (
	ed25519P = new(big.Int).Sub(new(big.Int).Lsh(bigOne, 255), big.NewInt(19))
	// ed25519D is the curve constant d = -121665/121666 mod p (RFC 8032 §5.1).
	ed25519D = func() *big.Int {
		d := new(big.Int).ModInverse(big.NewInt(121666), ed25519P)
		d.Mul(d, big.NewInt(-121665))
		return d.Mod(d, ed25519P)
	}()
)

// ed25519OnCurve reports whether the canonical encoding k decodes to a
// curve point (RFC 8032 §5.1.3): x^2 = (y^2-1)/(d*y^2+1) must be a square
// mod p, and x = 0 must not carry the sign bit.
func ed25519OnCurve(k ed25519.PublicKey) bool {
	le := make([]byte, len(k))
	for i, b := range k {
		le[len(k)-1-i] = b
	}
	le[0] &= 0x7f
	y := new(big.Int).SetBytes(le)
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, bigOne)
	v := y2.Mul(y2, ed25519D)
	v.Add(v, bigOne).Mod(v, ed25519P)
	if v.Sign() == 0 {
		return false
	}
	// u/v is a square iff u*v = (u/v)*v^2 is: no inversion needed.
	uv := u.Mul(u, v)
	uv.Mod(uv, ed25519P)
	if uv.Sign() == 0 {
		return k[31]&0x80 == 0
	}
	return big.Jacobi(uv, ed25519P) == 1
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
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	algs, _ := algorithmsFor(pub) // checked above
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
		if k.N == nil || k.N.Sign() <= 0 || k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("%w: RSA keys need at least %d bits", ErrWeakKey, MinRSABits)
		}
		// A huge modulus makes every (even garbage) signature check cost
		// milliseconds: a published key must not become a DoS lever.
		if k.N.BitLen() > MaxRSABits {
			return nil, fmt.Errorf("%w: RSA keys over %d bits are refused", ErrInvalidKey, MaxRSABits)
		}
		// A product of two odd primes is odd; crypto/rsa refuses an even
		// modulus too.
		if k.N.Bit(0) == 0 {
			return nil, fmt.Errorf("%w: even RSA modulus", ErrWeakKey)
		}
		// RFC 8017 §3.1: 3 <= e <= n-1, and e odd (coprime with p-1,
		// q-1). The upper bound 2^31-1 is crypto/rsa's, which refuses
		// larger exponents at verification. e = 3 stays allowed: it is
		// safe with a verifier that re-encodes and compares the whole
		// PKCS#1 v1.5 block, as crypto/rsa does, and OpenSSL and Python's
		// cryptography still generate it on request. (FIPS 186-5 §5.5(e)
		// wants e > 2^16; every common tool's default is 65537.)
		if k.E < 3 || k.E%2 == 0 || k.E > 1<<31-1 {
			return nil, fmt.Errorf("%w: bad RSA public exponent %d", ErrWeakKey, k.E)
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
		return nil, unsupportedKey(keyTypeName(k))
	case ed25519.PublicKey:
		if err := checkEd25519(k); err != nil {
			return nil, err
		}
		return ed25519Algorithm, nil
	}
	return nil, unsupportedKey(keyTypeName(pub))
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

// supportedKeyTypes lists what the protocol accepts, for error messages.
const supportedKeyTypes = "Ed25519, ECDSA on P-256, P-384 or P-521, RSA of 2048 to 8192 bits"

// unsupportedKeyError names a key type the protocol does not accept.
type unsupportedKeyError struct{ name string }

func (e *unsupportedKeyError) Error() string {
	return fmt.Sprintf("%v: unsupported key type %s; supported: %s", ErrInvalidKey, e.name, supportedKeyTypes)
}

func (e *unsupportedKeyError) Unwrap() error { return ErrInvalidKey }

func unsupportedKey(name string) error { return &unsupportedKeyError{name: name} }

// isSupportedKeyType reports whether key is of a type (and curve) the
// protocol allows, whatever its size.
func isSupportedKeyType(key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey, ed25519.PublicKey:
		return true
	case *ecdsa.PublicKey:
		return k.Curve == elliptic.P256() || k.Curve == elliptic.P384() || k.Curve == elliptic.P521()
	}
	return false
}

// keyTypeName names a parsed key's type for a person: "X25519", "DSA",
// "ECDSA on P-224".
func keyTypeName(key any) string {
	switch k := key.(type) {
	case *ecdh.PublicKey:
		return ecdhName(k.Curve())
	case *ecdh.PrivateKey:
		return ecdhName(k.Curve())
	case *dsa.PublicKey, *dsa.PrivateKey:
		return "DSA"
	case *ecdsa.PublicKey:
		if k.Curve == nil {
			return "ECDSA without a curve"
		}
		return "ECDSA on " + k.Curve.Params().Name
	case *ecdsa.PrivateKey:
		return keyTypeName(&k.PublicKey)
	case *rsa.PublicKey, *rsa.PrivateKey:
		return "RSA"
	case ed25519.PublicKey, ed25519.PrivateKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", key)
}

func ecdhName(c ecdh.Curve) string {
	if c == ecdh.X25519() {
		return "X25519 (a key-agreement key: it cannot sign)"
	}
	return fmt.Sprintf("ECDH on %v (a key-agreement key: it cannot sign)", c)
}

// Object identifiers of key algorithms and named curves, to name what
// crypto/x509 does not parse (RFC 8410 for the Edwards and Montgomery
// curves, RFC 5480 and SEC 2 for the others).
var (
	oidPublicKeyEC = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidAlgorithms  = map[string]string{
		"1.2.840.113549.1.1.1":  "RSA",
		"1.2.840.113549.1.1.10": "RSASSA-PSS (RSA restricted to PSS)",
		"1.2.840.10040.4.1":     "DSA",
		"1.2.840.10045.2.1":     "ECDSA",
		"1.3.101.110":           "X25519 (a key-agreement key: it cannot sign)",
		"1.3.101.111":           "X448 (a key-agreement key: it cannot sign)",
		"1.3.101.112":           "Ed25519",
		"1.3.101.113":           "Ed448",
		"1.2.840.113549.1.3.1":  "DH (a key-agreement key: it cannot sign)",
		"1.2.156.10197.1.301":   "SM2",
	}
	oidCurves = map[string]string{
		"1.2.840.10045.3.1.7":   "P-256",
		"1.3.132.0.34":          "P-384",
		"1.3.132.0.35":          "P-521",
		"1.3.132.0.33":          "P-224",
		"1.2.840.10045.3.1.1":   "P-192",
		"1.3.132.0.10":          "secp256k1",
		"1.3.36.3.3.2.8.1.1.7":  "brainpoolP256r1",
		"1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
		"1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
		"1.2.156.10197.1.301":   "SM2",
	}
)

// curveName names an EC parameters field: a named curve's OID, or the
// explicit parameters OpenSSL writes with -param_enc explicit.
func curveName(params []byte) string {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params, &oid); err != nil || len(rest) != 0 {
		return "a curve given by explicit parameters (write it with a named curve: openssl ec -param_enc named_curve)"
	}
	if name, ok := oidCurves[oid.String()]; ok {
		return name
	}
	return "the curve with OID " + oid.String()
}

// describeKeyDER names the key type in DER that crypto/x509 could not
// parse, when the type is one the protocol does not support; "" when it
// cannot tell or the type is supported (the DER is then merely bad).
func describeKeyDER(blockType string, der []byte) string {
	var (
		algo  pkix.AlgorithmIdentifier
		curve []byte
	)
	switch blockType {
	case "PRIVATE KEY": // PKCS#8 (RFC 5958)
		var k struct {
			Version    int
			Algo       pkix.AlgorithmIdentifier
			PrivateKey []byte
			Attributes asn1.RawValue `asn1:"optional,tag:0"`
			PublicKey  asn1.RawValue `asn1:"optional,tag:1"`
		}
		if _, err := asn1.Unmarshal(der, &k); err != nil {
			return ""
		}
		algo = k.Algo
	case "PUBLIC KEY": // SubjectPublicKeyInfo (RFC 5280 §4.1.2.7)
		var k struct {
			Algo      pkix.AlgorithmIdentifier
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(der, &k); err != nil {
			return ""
		}
		algo = k.Algo
	case "EC PRIVATE KEY": // SEC 1 v2 §C.4
		var k struct {
			Version    int
			PrivateKey []byte
			Params     asn1.RawValue  `asn1:"optional,explicit,tag:0"`
			PublicKey  asn1.BitString `asn1:"optional,explicit,tag:1"`
		}
		if _, err := asn1.Unmarshal(der, &k); err != nil || len(k.Params.FullBytes) == 0 {
			return ""
		}
		algo.Algorithm, curve = oidPublicKeyEC, k.Params.Bytes
	default:
		return ""
	}
	if algo.Algorithm.Equal(oidPublicKeyEC) {
		if curve == nil {
			curve = algo.Parameters.FullBytes
		}
		switch name := curveName(curve); name {
		case "P-256", "P-384", "P-521":
			return ""
		default:
			return "ECDSA on " + name
		}
	}
	name, ok := oidAlgorithms[algo.Algorithm.String()]
	switch {
	case !ok:
		return "with OID " + algo.Algorithm.String()
	case name == "RSA" || name == "Ed25519":
		return ""
	}
	return name
}

// checkECParameters checks that every "EC PARAMETERS" block names the
// curve of pub, which must then be an ECDSA key.
func checkECParameters(params []*pem.Block, pub crypto.PublicKey) error {
	for _, block := range params {
		name := curveName(block.Bytes)
		k, ok := unpin(pub).(*ecdsa.PublicKey)
		if !ok || k.Curve.Params().Name != name {
			return fmt.Errorf("%w: the EC PARAMETERS block names %s, but the key is %s", ErrInvalidKey, name, keyTypeName(unpin(pub)))
		}
	}
	return nil
}

// sshKeyTypeNames names OpenSSH key types that cannot sign tokens.
var sshKeyTypeNames = map[string]string{
	"ssh-dss":             "DSA",
	"ssh-ed448":           "Ed448",
	ssh.KeyAlgoSKED25519:  "Ed25519 on a security key (its signatures are not JWS signatures)",
	ssh.KeyAlgoSKECDSA256: "ECDSA P-256 on a security key (its signatures are not JWS signatures)",
}

// sshKeyTypeName names an OpenSSH key type for a person.
func sshKeyTypeName(typ string) string {
	name, ok := sshKeyTypeNames[typ]
	switch {
	case ok:
		return fmt.Sprintf("%s (OpenSSH %s)", name, typ)
	case strings.Contains(typ, "-cert-"):
		return fmt.Sprintf("an OpenSSH certificate (%s)", typ)
	}
	return "OpenSSH " + typ
}

// openSSHLineKeyType returns the key type an authorized_keys line
// declares, when its key blob (base64, after the type word and any
// options) starts with that same type; "" otherwise.
func openSSHLineKeyType(line []byte) string {
	fields := strings.Fields(string(line))
	for i := 0; i+1 < len(fields); i++ {
		blob, err := base64.StdEncoding.DecodeString(fields[i+1])
		if err != nil {
			continue
		}
		if typ, ok := sshString(blob); ok && typ == fields[i] {
			return typ
		}
	}
	return ""
}

// openSSHPrivateKeyType returns the type of the (first) key in an
// OpenSSH private key file, read from its public part, which is never
// encrypted (PROTOCOL.key in OpenSSH's sources); "" when it cannot tell.
func openSSHPrivateKeyType(pemData []byte) string {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return ""
	}
	const magic = "openssh-key-v1\x00"
	rest, ok := bytes.CutPrefix(block.Bytes, []byte(magic))
	if !ok {
		return ""
	}
	// ciphername, kdfname, kdfoptions, then the number of keys.
	for range 3 {
		if rest, ok = skipSSHString(rest); !ok {
			return ""
		}
	}
	if len(rest) < 4 {
		return ""
	}
	pub, ok := sshBytes(rest[4:])
	if !ok {
		return ""
	}
	typ, _ := sshString(pub)
	return typ
}

// sshBytes reads an SSH wire string (RFC 4251 §5): a uint32 length, then
// that many bytes.
func sshBytes(b []byte) ([]byte, bool) {
	if len(b) < 4 {
		return nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, false
	}
	return b[4 : 4+n], true
}

func sshString(b []byte) (string, bool) {
	s, ok := sshBytes(b)
	return string(s), ok
}

func skipSSHString(b []byte) ([]byte, bool) {
	s, ok := sshBytes(b)
	if !ok {
		return nil, false
	}
	return b[4+len(s):], true
}
