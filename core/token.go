package asymjwt

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Protocol limits (docs/PROTOCOL.md §1.2, §1.3).
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
// (docs/PROTOCOL.md §1.5 step 2). Every error wraps ErrMalformed.
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
	// One buffer for the three decoded parts.
	buf := make([]byte, strictB64.DecodedLen(len(headerB64))+strictB64.DecodedLen(len(payloadB64))+strictB64.DecodedLen(len(sigB64)))
	nh, err := strictB64.Decode(buf, []byte(headerB64))
	if err != nil {
		return nil, fmt.Errorf("%w: header encoding: %v", ErrMalformed, err)
	}
	np, err := strictB64.Decode(buf[nh:], []byte(payloadB64))
	if err != nil {
		return nil, fmt.Errorf("%w: payload encoding: %v", ErrMalformed, err)
	}
	ns, err := strictB64.Decode(buf[nh+np:], []byte(sigB64))
	if err != nil {
		return nil, fmt.Errorf("%w: signature encoding: %v", ErrMalformed, err)
	}
	if !json.Valid(buf[:nh]) || !json.Valid(buf[nh:nh+np]) {
		return nil, fmt.Errorf("%w: header or claims are not JSON", ErrMalformed)
	}
	// Decoded JSON as one string, so members are substrings, not copies.
	text := string(buf[:nh+np])
	t := &parsedToken{signingInput: token[:secondDot], signature: buf[nh+np : nh+np+ns]}
	if err := t.decodeHeader(text[:nh]); err != nil {
		return nil, err
	}
	if err := t.decodeClaims(text[nh:]); err != nil {
		return nil, err
	}
	return t, nil
}

var strictB64 = b64.Strict()

func (t *parsedToken) decodeHeader(obj string) error {
	var hasAlg bool
	err := forEachMember(obj, func(name, value string) error {
		var err error
		switch name {
		case "alg":
			hasAlg = true
			t.alg, err = stringValue(name, value)
		case "kid":
			t.kid, err = stringValue(name, value)
		case "typ":
			var typ string
			if typ, err = stringValue(name, value); err == nil && typ != "JWT" && typ != "asymjwt+jwt" {
				err = fmt.Errorf("%w: typ %q", ErrMalformed, typ)
			}
		case "crit":
			// RFC 7515 §4.1.11: extensions we do not understand must be refused.
			err = fmt.Errorf("%w: crit header not supported", ErrMalformed)
		}
		return err
	})
	switch {
	case err != nil:
		return err
	case !hasAlg || t.alg == "":
		return fmt.Errorf("%w: alg missing", ErrMalformed)
	case len(t.kid) > maxKIDLength:
		return fmt.Errorf("%w: kid longer than %d bytes", ErrMalformed, maxKIDLength)
	}
	return nil
}

func (t *parsedToken) decodeClaims(obj string) error {
	var hasUsername, hasTime, hasNonce bool
	err := forEachMember(obj, func(name, value string) error {
		var err error
		switch name {
		case claimUsername:
			hasUsername = true
			t.username, err = stringValue(name, value)
		case claimTime:
			hasTime = true
			t.time, err = integerValue(name, value)
		case claimNonce:
			hasNonce = true
			t.nonce, err = stringValue(name, value)
		case claimAudience:
			t.hasAud = true
			t.aud, err = audienceValue(value)
		case claimQSH:
			t.hasQSH = true
			t.qsh, err = stringValue(name, value)
		case claimBodyHash:
			t.hasBH = true
			t.bh, err = stringValue(name, value)
		}
		return err
	})
	switch {
	case err != nil:
		return err
	case !hasUsername || !hasTime || !hasNonce:
		return fmt.Errorf("%w: username, time and nonce are required", ErrMalformed)
	case t.username == "" || len(t.username) > maxUsernameLength:
		return fmt.Errorf("%w: username must be 1-%d bytes", ErrMalformed, maxUsernameLength)
	case t.nonce == "" || len(t.nonce) > maxNonceLength:
		return fmt.Errorf("%w: nonce must be 1-%d bytes", ErrMalformed, maxNonceLength)
	}
	return nil
}

// forEachMember calls fn with the name (unescaped) and raw value of each
// member of the JSON object obj, in order; a later duplicate overrides an
// earlier one, as in Python's json. obj must already be valid JSON.
func forEachMember(obj string, fn func(name, value string) error) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	i = skipSpace(obj, i+1)
	if obj[i] == '}' {
		return nil
	}
	for {
		end := endOfString(obj, i)
		name, err := unquote(obj[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(obj, skipSpace(obj, end)+1) // past ':'
		end = endOfValue(obj, i)
		if err := fn(name, obj[i:end]); err != nil {
			return err
		}
		i = skipSpace(obj, end)
		if obj[i] == '}' {
			return nil
		}
		i = skipSpace(obj, i+1) // past ','
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index just past the string starting at s[i].
func endOfString(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(s)
}

// endOfValue returns the index just past the value starting at s[i].
func endOfValue(s string, i int) int {
	switch s[i] {
	case '"':
		return endOfString(s, i)
	case '{', '[':
		depth := 0
		for ; i < len(s); i++ {
			switch s[i] {
			case '"':
				i = endOfString(s, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(s)
	}
	for ; i < len(s); i++ {
		switch s[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// unquote decodes a JSON string literal; without escapes it is a substring.
func unquote(literal string) (string, error) {
	if len(literal) >= 2 && strings.IndexByte(literal, '\\') < 0 {
		return literal[1 : len(literal)-1], nil
	}
	var s string
	if err := json.Unmarshal([]byte(literal), &s); err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return s, nil
}

// stringValue returns value, which must be a JSON string.
func stringValue(name, value string) (string, error) {
	if value == "" || value[0] != '"' {
		return "", fmt.Errorf("%w: %s is not a string", ErrMalformed, name)
	}
	return unquote(value)
}

// integerValue returns value, which must be a JSON integer: 1700000000,
// not 1700000000.0, "1700000000" or 1.7e9.
func integerValue(name, value string) (int64, error) {
	if value == "" || strings.ContainsAny(value, ".eE\"") {
		return 0, fmt.Errorf("%w: %s is not an integer", ErrMalformed, name)
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s is not an integer", ErrMalformed, name)
	}
	return n, nil
}

// audienceValue decodes aud: a string or an array of strings.
func audienceValue(value string) ([]string, error) {
	if value != "" && value[0] == '"' {
		s, err := unquote(value)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var list []string
	if value == "" || value[0] != '[' || json.Unmarshal([]byte(value), &list) != nil {
		return nil, fmt.Errorf("%w: aud must be a string or an array of strings", ErrMalformed)
	}
	return list, nil
}
