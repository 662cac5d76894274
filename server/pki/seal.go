package pki

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// sealedPrefix marks a value sealed by Seal (format version 1: base64 of
// salt, GCM nonce and ciphertext).
const sealedPrefix = "skiff-sealed-v1:"

// sealIterations is PBKDF2's work factor: a join secret chosen by a person
// may be guessable, so each guess must cost something, while a Raspberry
// Pi still opens a sealed value at start in well under a second.
const sealIterations = 100_000

// ErrWrongPassphrase is returned by Open when the value was sealed with
// another passphrase (or altered).
var ErrWrongPassphrase = errors.New("sealed with another secret, or altered")

// Seal encrypts plaintext with a key derived from passphrase (the join
// token's secret, which every server of a cluster is given) so that what
// servers share through the datastore, such as the service-account
// signing key, is not readable by whoever can read the datastore. aad
// binds the value to where it is stored. AES-256-GCM, key from
// PBKDF2-SHA256 over a random salt.
func Seal(passphrase string, plaintext, aad []byte) ([]byte, error) {
	if passphrase == "" {
		return nil, errors.New("pki: seal: empty secret")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	gcm, err := sealCipher(passphrase, salt)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	raw := append(append(salt, nonce...), gcm.Seal(nil, nonce, plaintext, aad)...)
	return []byte(sealedPrefix + base64.StdEncoding.EncodeToString(raw)), nil
}

// Open reverses Seal.
func Open(passphrase string, sealed, aad []byte) ([]byte, error) {
	if !IsSealed(sealed) {
		return nil, errors.New("pki: open: not a sealed value")
	}
	raw, err := base64.StdEncoding.DecodeString(string(sealed[len(sealedPrefix):]))
	if err != nil || len(raw) < 16 {
		return nil, fmt.Errorf("pki: open: malformed sealed value")
	}
	salt, rest := raw[:16], raw[16:]
	gcm, err := sealCipher(passphrase, salt)
	if err != nil {
		return nil, err
	}
	if len(rest) < gcm.NonceSize() {
		return nil, fmt.Errorf("pki: open: malformed sealed value")
	}
	out, err := gcm.Open(nil, rest[:gcm.NonceSize()], rest[gcm.NonceSize():], aad)
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return out, nil
}

// IsSealed says whether b is a value Seal produced.
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, []byte(sealedPrefix)) }

func sealCipher(passphrase string, salt []byte) (cipher.AEAD, error) {
	key, err := pbkdf2.Key(sha256.New, passphrase, salt, sealIterations, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
