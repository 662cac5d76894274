package cliconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestToken(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(good, []byte("  K10abc::server:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		token, file, want, err string
	}{
		{token: "t", want: "t"},
		{file: good, want: "K10abc::server:s3cret"},
		{token: "t", file: good, err: "cannot both be given"},
		{file: empty, err: "is empty"},
		{file: filepath.Join(dir, "missing"), err: "--token-file"},
	}
	for _, tc := range tests {
		got, err := Token(tc.token, tc.file)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Token(%q, %q) error %v, want %q", tc.token, tc.file, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Token(%q, %q) = %q, %v; want %q", tc.token, tc.file, got, err, tc.want)
		}
	}
}
