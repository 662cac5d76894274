package pki

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/skiff-io/skiff/cliconfig"
	"os"
	"path/filepath"
	"strings"

	"github.com/skiff-io/skiff/protocol"
)

const (
	tokenPrefix = protocol.TokenPrefix
	// ServerTokenID is the id part of tokens EnsureToken builds.
	ServerTokenID = "server"
	tokenMode     = os.FileMode(0o600)
)

// CAHash returns the hex SHA-256 of the CA certificate PEM: the value a
// joining agent compares with the CA the server presents before trusting it.
func CAHash(caCertPEM []byte) string { return protocol.CAHash(caCertPEM) }

// EnsureToken returns the server's join token, in the form
// K10<CA hash>::<id>:<secret>, and keeps it in the file at path.
//
// userToken (--token or the contents of --token-file) wins when given: a
// bare secret is wrapped in the full form, a full token must carry this
// CA's hash. Otherwise the token in the file is reused, or a random one is
// created on first start.
func EnsureToken(path string, caCertPEM []byte, userToken string) (full string, err error) {
	hash := CAHash(caCertPEM)
	var id, secret string
	if userToken = strings.TrimSpace(userToken); userToken != "" {
		h, i, s, err := ParseToken(userToken)
		if err != nil {
			return "", fmt.Errorf("pki: given token: %w", err)
		}
		if h != "" && h != hash {
			return "", fmt.Errorf("pki: given token is for a CA with hash %s, but this server's CA has hash %s", h, hash)
		}
		id, secret = i, s
	} else {
		old, err := readOptional(path)
		if err != nil {
			return "", fmt.Errorf("pki: %w", err)
		}
		if s := strings.TrimSpace(string(old)); s != "" {
			h, i, sec, err := ParseToken(s)
			if err != nil {
				return "", fmt.Errorf("pki: %s: %w", path, err)
			}
			if h != "" && h != hash {
				return "", fmt.Errorf("pki: %s holds a token for a CA with hash %s, not this server's CA (hash %s); if the CA was replaced on purpose, remove the token file to create a new token", path, h, hash)
			}
			id, secret = i, sec
		}
	}
	if secret == "" {
		if secret, err = randomSecret(); err != nil {
			return "", fmt.Errorf("pki: %w", err)
		}
	}
	if id == "" {
		id = ServerTokenID
	}
	full = tokenPrefix + hash + "::" + id + ":" + secret

	old, err := readOptional(path)
	if err != nil {
		return "", fmt.Errorf("pki: %w", err)
	}
	if strings.TrimSpace(string(old)) == full {
		if err := ensureMode(path, tokenMode); err != nil {
			return "", fmt.Errorf("pki: %w", err)
		}
		return full, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return "", fmt.Errorf("pki: %w", err)
	}
	if err := cliconfig.WriteFileAtomic(path, []byte(full+"\n"), tokenMode); err != nil {
		return "", fmt.Errorf("pki: %w", err)
	}
	return full, nil
}

// ParseToken splits a join token into its parts (see protocol.ParseToken).
func ParseToken(s string) (caHash, id, secret string, err error) { return protocol.ParseToken(s) }

func randomSecret() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// RehashToken rewrites the join token in the file at path for a new
// server CA (after RotateCA): same id and secret, the new CA's hash. It
// returns the new token, or "" when there is no token file yet.
func RehashToken(path string, caCertPEM []byte) (string, error) {
	old, err := readOptional(path)
	if err != nil || len(strings.TrimSpace(string(old))) == 0 {
		return "", err
	}
	_, id, secret, err := ParseToken(strings.TrimSpace(string(old)))
	if err != nil {
		return "", fmt.Errorf("pki: %s: %w", path, err)
	}
	if id == "" {
		id = ServerTokenID
	}
	full := tokenPrefix + CAHash(caCertPEM) + "::" + id + ":" + secret
	if err := cliconfig.WriteFileAtomic(path, []byte(full+"\n"), tokenMode); err != nil {
		return "", fmt.Errorf("pki: %w", err)
	}
	return full, nil
}
