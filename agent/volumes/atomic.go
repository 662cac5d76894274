package volumes

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// file is one file of a volume's payload.
type file struct {
	data []byte
	mode os.FileMode
}

const (
	dataLink    = "..data"
	newDataLink = "..data_tmp"
)

// writeAtomic makes dir hold exactly payload (relative path -> file).
//
// The real files live in a hidden, timestamped directory
// (dir/..2006_01_02_15_04_05.NNNN); dir/..data is a symlink to it, and
// every top-level name a user sees is a symlink through ..data
// (dir/key -> ..data/key). An update writes a complete new timestamped
// directory, points a fresh ..data_tmp symlink at it and renames that over
// ..data: rename(2) is atomic, so a reader resolving dir/key sees either
// the old set of files or the new one, never a mix or a half-written
// file. Then visible links for new names are added, links for names that
// disappeared are removed, and the old directory is deleted.
//
// Nothing is written when the content and modes are unchanged. now names
// the new directory (its name carries no meaning beyond ordering).
func writeAtomic(dir string, payload map[string]file, now time.Time) (changed bool, err error) {
	clean := make(map[string]file, len(payload))
	for p, f := range payload {
		if err := validatePayloadPath(p); err != nil {
			return false, err
		}
		clean[filepath.Clean(p)] = f
	}

	dataPath := filepath.Join(dir, dataLink)
	oldTs, err := os.Readlink(dataPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("reading %s: %w", dataPath, err)
	}
	var stale []string
	if oldTs != "" {
		oldPath := filepath.Join(dir, oldTs)
		same, err := sameContent(clean, oldPath)
		if err != nil {
			return false, err
		}
		stale, err = visibleToRemove(dir, clean)
		if err != nil {
			return false, err
		}
		if same && len(stale) == 0 {
			return false, nil
		}
	}

	tsDir, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, fmt.Errorf("creating data directory: %w", err)
	}
	// MkdirTemp makes 0700; containers running as any user must traverse.
	if err := os.Chmod(tsDir, 0o755); err != nil {
		os.RemoveAll(tsDir)
		return false, err
	}
	if err := writeTree(tsDir, clean); err != nil {
		os.RemoveAll(tsDir)
		return false, err
	}

	tmpLink := filepath.Join(dir, newDataLink)
	os.Remove(tmpLink) // left over from an interrupted update
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("creating %s: %w", tmpLink, err)
	}
	if err := os.Rename(tmpLink, dataPath); err != nil {
		os.Remove(tmpLink)
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("swapping %s: %w", dataPath, err)
	}

	for _, name := range topLevel(clean) {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
			return true, fmt.Errorf("creating %s: %w", link, err)
		}
	}
	var errs []error
	for _, name := range stale {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	// Remove every older timestamped directory, including ones an
	// interrupted update left behind.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true, err
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "..") && n != dataLink && n != filepath.Base(tsDir) && e.IsDir() {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return true, errors.Join(errs...)
}

// validatePayloadPath rejects paths that could escape the volume or clash
// with the writer's own names.
func validatePayloadPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("invalid path: must not be empty")
	case filepath.IsAbs(p):
		return fmt.Errorf("invalid path: must be relative path: %s", p)
	case len(p) > 4096:
		return fmt.Errorf("invalid path: must be less than or equal to 4096 characters")
	}
	parts := strings.Split(p, "/")
	for _, part := range parts {
		if part == ".." {
			return fmt.Errorf("invalid path: must not contain '..': %s", p)
		}
		if len(part) > 255 {
			return fmt.Errorf("invalid path: filenames must be less than or equal to 255 characters")
		}
	}
	if strings.HasPrefix(parts[0], "..") {
		return fmt.Errorf("invalid path: must not start with '..': %s", p)
	}
	return nil
}

func writeTree(root string, payload map[string]file) error {
	for p, f := range payload {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return err
		}
		// WriteFile's mode is filtered by the umask; set it exactly.
		if err := os.Chmod(full, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// sameContent reports whether oldDir already holds payload: the same
// regular files with the same bytes and modes, and nothing else.
func sameContent(payload map[string]file, oldDir string) (bool, error) {
	n := 0
	err := filepath.WalkDir(oldDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		n++
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if n != len(payload) {
		return false, nil
	}
	for p, f := range payload {
		full := filepath.Join(oldDir, p)
		fi, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != f.mode.Perm() {
			return false, nil
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return false, err
		}
		if !bytes.Equal(data, f.data) {
			return false, nil
		}
	}
	return true, nil
}

// visibleToRemove lists the user-visible top-level entries of dir that the
// new payload no longer has.
func visibleToRemove(dir string, payload map[string]file) ([]string, error) {
	keep := map[string]bool{}
	for _, n := range topLevel(payload) {
		keep[n] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "..") || keep[n] {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

func topLevel(payload map[string]file) []string {
	seen := map[string]bool{}
	var out []string
	for p := range payload {
		first, _, _ := strings.Cut(p, "/")
		if !seen[first] {
			seen[first] = true
			out = append(out, first)
		}
	}
	sort.Strings(out)
	return out
}
