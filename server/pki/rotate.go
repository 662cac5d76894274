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
	if err := recoverStaged(dir); err != nil {
		return nil, err
	}
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

	// Everything is staged as <file>.new first, then the list of files is
	// written (pendingFile) and only then are they renamed into place: a
	// crash before the list leaves the directory as it was (the staged
	// files are removed at the next start), a crash after it is rolled
	// forward by the next start, so no CA is ever left half replaced.
	staged := []stagedFile{
		{PreviousClientCAFile, prevClient.certPEM, certMode},
		{CrossSignedFile, cross, certMode},
	}
	for _, name := range caNames {
		ca := next[name]
		// Each key before its certificate, as at first start.
		staged = append(staged, stagedFile{name + ".key", ca.keyPEM, keyMode}, stagedFile{name + ".crt", ca.certPEM, certMode})
	}
	var names []string
	for _, f := range staged {
		if err := cliconfig.WriteFileAtomic(filepath.Join(dir, f.name+stagedSuffix), f.data, f.mode); err != nil {
			return nil, err
		}
		names = append(names, f.name)
	}
	if err := cliconfig.WriteFileAtomic(filepath.Join(dir, pendingFile), []byte(strings.Join(names, "\n")+"\n"), keyMode); err != nil {
		return nil, err
	}
	if err := commitStaged(dir); err != nil {
		return nil, err
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
	if err := recoverStaged(dir); err != nil {
		return err
	}
	rotating, err := transitionFiles(dir)
	if err != nil {
		return err
	}
	if len(rotating) == 0 {
		return errors.New("no CA rotation is in progress")
	}
	issuers := map[string]string{
		"serving.crt": CAServer, "admin.crt": CAClient, CertFrontProxy + ".crt": CARequestHeader,
	}
	for _, leaf := range []string{"serving.crt", "admin.crt", CertFrontProxy + ".crt"} {
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
	ca, certPEM, keyPEM, err := readCAFiles(dir, name)
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

// stagedFile is a file RotateCA puts in place.
type stagedFile struct {
	name string
	data []byte
	mode os.FileMode
}

const (
	// stagedSuffix marks a file RotateCA wrote but has not put in place.
	stagedSuffix = ".new"
	// pendingFile lists the staged files once all are written.
	pendingFile = "rotate-ca.pending"
)

// commitStaged renames the files listed in pendingFile into place, then
// removes the list. Each rename is atomic and a file already renamed is
// skipped, so it can be repeated after a crash.
func commitStaged(dir string) error {
	list, err := os.ReadFile(filepath.Join(dir, pendingFile))
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(string(list)) {
		if filepath.Base(name) != name {
			return fmt.Errorf("%s: %q is not a file name", pendingFile, name)
		}
		err := os.Rename(filepath.Join(dir, name+stagedSuffix), filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, pendingFile))
}

// recoverStaged finishes or undoes a RotateCA that was interrupted: with
// the list of staged files written, it puts them in place; without it,
// it removes the staged files.
func recoverStaged(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, pendingFile)); err == nil {
		return commitStaged(dir)
	} else if !os.IsNotExist(err) {
		return err
	}
	leftovers, err := filepath.Glob(filepath.Join(dir, "*"+stagedSuffix))
	if err != nil {
		return err
	}
	for _, f := range leftovers {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
