package cliconfig

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	for _, c := range []struct {
		data string
		mode os.FileMode
	}{{"first", 0o600}, {"second", 0o644}} {
		if err := WriteFileAtomic(path, []byte(c.data), c.mode); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != c.data {
			t.Fatalf("read %q, %v; want %q", got, err, c.data)
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != c.mode {
			t.Errorf("mode %v, want %v", st.Mode().Perm(), c.mode)
		}
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 {
		t.Errorf("temporary files left behind: %v", left)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "key"), []byte("x"), 0o600); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
