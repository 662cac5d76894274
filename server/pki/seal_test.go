package pki

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	secret, aad := "join-secret", []byte("/skiff/service-account.key")
	plain := []byte("-----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY-----\n")
	sealed, err := Seal(secret, plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(sealed) || bytes.Contains(sealed, []byte("PRIVATE KEY")) {
		t.Fatalf("not sealed: %q", sealed)
	}
	again, _ := Seal(secret, plain, aad)
	if bytes.Equal(sealed, again) {
		t.Error("two seals of one value are equal: salt or nonce not random")
	}
	got, err := Open(secret, sealed, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := Open("another-secret", sealed, aad); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := Open(secret, sealed, []byte("/elsewhere")); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("moved value opened: %v", err)
	}
	tampered := append([]byte{}, sealed...)
	tampered[len(tampered)-2] ^= 1
	if _, err := Open(secret, tampered, aad); err == nil {
		t.Error("tampered value opened")
	}
	if IsSealed(plain) {
		t.Error("a PEM key taken for sealed")
	}
}
