package asymjwt

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Protocol limits (SPEC §1.2, §1.3).
const (
	// DefaultMaxTokenSize is the largest token accepted unless
	// WithMaxTokenSize says otherwise. Larger tokens are refused unparsed.
	DefaultMaxTokenSize = 8 << 10
	maxKIDLength        = 128
	maxUsernameLength   = 256
	maxNonceLength      = 128
)

// The JSON members of the header and claims.
const (
	claimUsername = "username"
	claimTime     = "time"
	claimNonce    = "nonce"
	claimAudience = "aud"
	claimQSH      = "qsh"
	claimBodyHash = "bh"
)

// parsedToken is a token split and decoded, nothing about it trusted yet.
type parsedToken struct {
	alg, kid     string
	username     string
	time         int64
	nonce        string
	aud          []string
	hasAud       bool
	qsh, bh      string
	hasQSH       bool
	hasBH        bool
	signingInput string // header.payload, the bytes the signature covers
	signature    []byte
}

// parseToken checks the compact form and decodes header and claims
// (SPEC §1.5 step 2). Every error wraps ErrMalformed.
func parseToken(token string) (*parsedToken, error) {
	// One pass over the bytes: only the base64url alphabet and exactly two
	// dots. Go's base64 decoder skips \r and \n, so this check is what
	// keeps whitespace out.
	firstDot, secondDot := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			switch {
			case firstDot < 0:
				firstDot = i
			case secondDot < 0:
				secondDot = i
			default:
				return nil, fmt.Errorf("%w: more than three parts", ErrMalformed)
			}
		default:
			return nil, fmt.Errorf("%w: byte %#x at %d is not compact serialization", ErrMalformed, c, i)
		}
	}
	if secondDot < 0 {
		return nil, fmt.Errorf("%w: not three parts", ErrMalformed)
	}
	headerB64, payloadB64, sigB64 := token[:firstDot], token[firstDot+1:secondDot], token[secondDot+1:]
	if headerB64 == "" || payloadB64 == "" || sigB64 == "" {
		return nil, fmt.Errorf("%w: empty part", ErrMalformed)
	}
	headerJSON, err := strictB64.DecodeString(headerB64)
	if err != nil {
		return nil, fmt.Errorf("%w: header encoding: %v", ErrMalformed, err)
	}
	payloadJSON, err := strictB64.DecodeString(payloadB64)
	if err != nil {
		return nil, fmt.Errorf("%w: payload encoding: %v", ErrMalformed, err)
	}
	sig, err := strictB64.DecodeString(sigB64)
	if err != nil {
		return nil, fmt.Errorf("%w: signature encoding: %v", ErrMalformed, err)
	}
	t := &parsedToken{signingInput: token[:secondDot], signature: sig}
	if err := t.decodeHeader(headerJSON); err != nil {
		return nil, err
	}
	if err := t.decodeClaims(payloadJSON); err != nil {
		return nil, err
	}
	return t, nil
}

var strictB64 = b64.Strict()

func (t *parsedToken) decodeHeader(data []byte) error {
	var h map[string]json.RawMessage
	if err := json.Unmarshal(data, &h); err != nil || h == nil {
		return fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	var err error
	if t.alg, err = stringMember(h, "alg", true); err != nil {
		return err
	}
	if t.alg == "" {
		return fmt.Errorf("%w: empty alg", ErrMalformed)
	}
	if t.kid, err = stringMember(h, "kid", false); err != nil {
		return err
	}
	if len(t.kid) > maxKIDLength {
		return fmt.Errorf("%w: kid longer than %d bytes", ErrMalformed, maxKIDLength)
	}
	if _, ok := h["typ"]; ok {
		typ, err := stringMember(h, "typ", true)
		if err != nil {
			return err
		}
		if typ != "JWT" && typ != "asymjwt+jwt" {
			return fmt.Errorf("%w: typ %q", ErrMalformed, typ)
		}
	}
	// RFC 7515 §4.1.11: extensions we do not understand must be refused.
	if _, ok := h["crit"]; ok {
		return fmt.Errorf("%w: crit header not supported", ErrMalformed)
	}
	return nil
}

func (t *parsedToken) decodeClaims(data []byte) error {
	var c map[string]json.RawMessage
	if err := json.Unmarshal(data, &c); err != nil || c == nil {
		return fmt.Errorf("%w: claims are not a JSON object", ErrMalformed)
	}
	var err error
	if t.username, err = stringMember(c, claimUsername, true); err != nil {
		return err
	}
	if t.username == "" || len(t.username) > maxUsernameLength {
		return fmt.Errorf("%w: username must be 1-%d bytes", ErrMalformed, maxUsernameLength)
	}
	if t.time, err = integerMember(c, claimTime); err != nil {
		return err
	}
	if t.nonce, err = stringMember(c, claimNonce, true); err != nil {
		return err
	}
	if t.nonce == "" || len(t.nonce) > maxNonceLength {
		return fmt.Errorf("%w: nonce must be 1-%d bytes", ErrMalformed, maxNonceLength)
	}
	if raw, ok := c[claimAudience]; ok {
		t.hasAud = true
		if t.aud, err = decodeAudience(raw); err != nil {
			return err
		}
	}
	if _, ok := c[claimQSH]; ok {
		t.hasQSH = true
		if t.qsh, err = stringMember(c, claimQSH, true); err != nil {
			return err
		}
	}
	if _, ok := c[claimBodyHash]; ok {
		t.hasBH = true
		if t.bh, err = stringMember(c, claimBodyHash, true); err != nil {
			return err
		}
	}
	return nil
}

// stringMember returns member name of obj, which must be a JSON string.
func stringMember(obj map[string]json.RawMessage, name string, required bool) (string, error) {
	raw, ok := obj[name]
	if !ok {
		if required {
			return "", fmt.Errorf("%w: %s missing", ErrMalformed, name)
		}
		return "", nil
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("%w: %s is not a string", ErrMalformed, name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
	}
	return s, nil
}

// integerMember returns member name of obj, which must be a JSON integer:
// 1700000000, not 1700000000.0, "1700000000" or 1.7e9.
func integerMember(obj map[string]json.RawMessage, name string) (int64, error) {
	raw, ok := obj[name]
	if !ok {
		return 0, fmt.Errorf("%w: %s missing", ErrMalformed, name)
	}
	s := string(raw)
	if s == "" || strings.ContainsAny(s, ".eE\"") {
		return 0, fmt.Errorf("%w: %s is not an integer", ErrMalformed, name)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s is not an integer", ErrMalformed, name)
	}
	return n, nil
}

func decodeAudience(raw json.RawMessage) ([]string, error) {
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: aud: %v", ErrMalformed, err)
		}
		return []string{s}, nil
	case len(raw) > 0 && raw[0] == '[':
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("%w: aud must be a string or an array of strings", ErrMalformed)
		}
		return list, nil
	}
	return nil, fmt.Errorf("%w: aud must be a string or an array of strings", ErrMalformed)
}
