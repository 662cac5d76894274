package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// TokenPrefix starts every full join token.
const TokenPrefix = "K10"

const caHashLen = 2 * sha256.Size

// CAHash returns the hex SHA-256 of the CA certificate PEM: the value a
// joining agent compares with the CA the server presents before trusting it.
func CAHash(caCertPEM []byte) string {
	sum := sha256.Sum256(caCertPEM)
	return hex.EncodeToString(sum[:])
}

// ParseToken splits a token of the form K10<caHash>::<id>:<secret> into its
// parts. As in k3s, the hash may be left out ("K10::id:secret" or
// "K10id:secret"), and a string without the K10 prefix is a bare secret,
// returned with an empty hash and id.
func ParseToken(s string) (caHash, id, secret string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", "", errors.New("token is empty")
	}
	if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return "", "", "", errors.New("token contains whitespace or control characters")
	}
	if !strings.HasPrefix(s, TokenPrefix) {
		return "", "", s, nil
	}
	creds := strings.TrimPrefix(s, TokenPrefix)
	if h, rest, ok := strings.Cut(creds, "::"); ok {
		if h != "" {
			if len(h) != caHashLen {
				return "", "", "", fmt.Errorf("token CA hash has %d characters, want %d", len(h), caHashLen)
			}
			if _, err := hex.DecodeString(h); err != nil {
				return "", "", "", errors.New("token CA hash is not hexadecimal")
			}
		}
		caHash, creds = strings.ToLower(h), rest
	}
	id, secret, ok := strings.Cut(creds, ":")
	if !ok || secret == "" {
		return "", "", "", errors.New(`token has the K10 prefix but not the form K10<ca-hash>::<id>:<secret>`)
	}
	return caHash, id, secret, nil
}
