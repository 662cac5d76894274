package pki

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skiff-io/skiff/cliconfig"
)

// RotateCA replaces the CAs in dir (normally <data-dir>/server/tls) with
// new ones: each pair <name>.crt/<name>.key found in source (server-ca,
// client-ca, request-header-ca), the others generated; an empty source
// generates all three. It returns the new server CA file's contents.
//
// It starts a transition instead of cutting trust: the new server CA is
// cross-signed by the previous one (CrossSignedFile), which the server
// sends with its serving certificate so kubeconfigs and agents that trust
// only the previous CA still verify it, and the previous client CA is
// kept (PreviousClientCAFile) so certificates it signed still
// authenticate. The server takes the new CAs at its next start and then
// re-issues its own certificates; FinishCARotation ends the transition.
//
// Everything is checked before anything is written: bad input leaves dir
// as it was.
func RotateCA(dir, source string, now time.Time) ([]byte, error) {
	if rotating, err := transitionFiles(dir); err != nil {
		return nil, err
	} else if len(rotating) > 0 {
		return nil, fmt.Errorf("a CA rotation is already in progress (%s): end it first with `skiff certificate rotate-ca --finish`", strings.Join(rotating, ", "))
	}
	prevServer, err := loadCurrentCA(dir, CAServer, now)
	if err != nil {
		return nil, err
	}
	prevClient, err := loadCurrentCA(dir, CAClient, now)
	if err != nil {
		return nil, err
	}

	next := map[string]*caPair{}
	if source != "" {
		st, err := os.Stat(source)
		if err != nil {
			return nil, fmt.Errorf("--path: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("--path %s is not a directory", source)
		}
		for _, name := range caNames {
			ca, err := loadSuppliedCA(source, name, now)
			if err != nil {
				return nil, err
			}
			if ca != nil {
				next[name] = ca
			}
		}
		if len(next) == 0 {
			return nil, fmt.Errorf("--path %s holds none of %s.crt, %s.crt, %s.crt with their keys", source, CAServer, CAClient, CARequestHeader)
		}
		if s := next[CAServer]; s != nil && bytes.Equal(s.cert.Raw, prevServer.cert.Raw) {
			return nil, fmt.Errorf("%s is the current server CA: nothing to rotate", s.certFile)
		}
	}
	for _, name := range caNames {
		if next[name] != nil {
			continue
		}
		certPEM, keyPEM, err := newCA(name, now, caValidity)
		if err != nil {
			return nil, err
		}
		ca := &caPair{name: name}
		if err := ca.parse(certPEM, keyPEM, now); err != nil {
			return nil, err
		}
		next[name] = ca
	}
	cross, err := crossSign(next[CAServer], prevServer, now)
	if err != nil {
		return nil, err
	}

	type file struct {
		path string
		data []byte
		mode os.FileMode
	}
	writes := []file{
		{filepath.Join(dir, PreviousClientCAFile), prevClient.certPEM, certMode},
		{filepath.Join(dir, CrossSignedFile), cross, certMode},
	}
	for _, name := range caNames {
		ca := next[name]
		// The key first: a crash between the two leaves a pair the next
		// start refuses by name rather than a CA that signs wrongly.
		writes = append(writes,
			file{filepath.Join(dir, name+".key"), ca.keyPEM, keyMode},
			file{filepath.Join(dir, name+".crt"), ca.certPEM, certMode})
	}
	for _, f := range writes {
		if err := cliconfig.WriteFileAtomic(f.path, f.data, f.mode); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{legacyCA + ".key", legacyCA + ".crt"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	return next[CAServer].certPEM, nil
}

// FinishCARotation ends a CA rotation: the previous server CA no longer
// vouches for the server and the previous client CA no longer
// authenticates anyone, from the server's next start. It refuses while
// the server's own certificates in dir are not yet signed by the new CAs
// (the server has not been restarted since RotateCA).
func FinishCARotation(dir string, now time.Time) error {
	rotating, err := transitionFiles(dir)
	if err != nil {
		return err
	}
	if len(rotating) == 0 {
		return errors.New("no CA rotation is in progress")
	}
	issuers := map[string]string{
		"serving.crt": CAServer, "admin.crt": CAClient, "controller.crt": CAClient, CertFrontProxy + ".crt": CARequestHeader,
	}
	for _, leaf := range []string{"serving.crt", "admin.crt", "controller.crt", CertFrontProxy + ".crt"} {
		ca, err := loadCurrentCA(dir, issuers[leaf], now)
		if err != nil {
			return err
		}
		data, err := readOptional(filepath.Join(dir, leaf))
		if err != nil {
			return err
		}
		cert, perr := parseCert(data)
		if data == nil || perr != nil || cert.CheckSignatureFrom(ca.cert) != nil {
			return fmt.Errorf("%s is not signed by the new %s yet: restart the server (it re-issues its certificates at start), then finish", leaf, ca.name)
		}
	}
	for _, f := range rotating {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// transitionFiles lists the files of an unfinished CA rotation in dir.
func transitionFiles(dir string) ([]string, error) {
	var out []string
	for _, f := range []string{CrossSignedFile, PreviousClientCAFile} {
		_, err := os.Stat(filepath.Join(dir, f))
		switch {
		case err == nil:
			out = append(out, f)
		case !os.IsNotExist(err):
			return nil, err
		}
	}
	return out, nil
}

// loadCurrentCA reads the CA called name from dir, or the single CA of the
// older layout.
func loadCurrentCA(dir, name string, now time.Time) (*caPair, error) {
	for _, n := range []string{name, legacyCA} {
		ca := &caPair{name: name, certFile: filepath.Join(dir, n+".crt"), keyFile: filepath.Join(dir, n+".key")}
		certPEM, err := readOptional(ca.certFile)
		if err != nil {
			return nil, err
		}
		if certPEM == nil {
			continue
		}
		keyPEM, err := readOptional(ca.keyFile)
		if err != nil {
			return nil, err
		}
		if keyPEM == nil {
			return nil, fmt.Errorf("%s exists but %s does not: the CA cannot be rotated without its key", ca.certFile, ca.keyFile)
		}
		if err := ca.parse(certPEM, keyPEM, now); err != nil {
			return nil, err
		}
		return ca, nil
	}
	return nil, fmt.Errorf("%s holds no %s.crt: start the server once to create its CAs", dir, name)
}

// loadSuppliedCA reads the pair called name from a user's directory: nil
// when neither file is there.
func loadSuppliedCA(dir, name string, now time.Time) (*caPair, error) {
	ca := &caPair{name: name, certFile: filepath.Join(dir, name+".crt"), keyFile: filepath.Join(dir, name+".key")}
	certPEM, err := readOptional(ca.certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readOptional(ca.keyFile)
	if err != nil {
		return nil, err
	}
	switch {
	case certPEM == nil && keyPEM == nil:
		return nil, nil
	case certPEM == nil:
		return nil, fmt.Errorf("%s exists but %s does not", ca.keyFile, ca.certFile)
	case keyPEM == nil:
		return nil, fmt.Errorf("%s exists but %s does not", ca.certFile, ca.keyFile)
	}
	if err := ca.parse(certPEM, keyPEM, now); err != nil {
		return nil, err
	}
	return ca, nil
}
