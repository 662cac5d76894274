package pki

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestEnsureToken(t *testing.T) {
	caPEM := []byte("-----BEGIN CERTIFICATE-----\nca-one\n-----END CERTIFICATE-----\n")
	otherPEM := []byte("-----BEGIN CERTIFICATE-----\nca-two\n-----END CERTIFICATE-----\n")
	hash, otherHash := CAHash(caPEM), CAHash(otherPEM)

	tests := []struct {
		name      string
		existing  string // token file contents before the call; "" means no file
		userToken string
		want      string // exact result, or a regexp if it starts with ^
		wantErr   string
	}{
		{
			name: "generated",
			want: "^K10" + hash + "::server:[0-9a-f]{32}$",
		},
		{
			name:     "reused from file",
			existing: "K10" + hash + "::server:0123456789abcdef0123456789abcdef\n",
			want:     "K10" + hash + "::server:0123456789abcdef0123456789abcdef",
		},
		{
			name:      "bare user secret",
			userToken: "s3cret",
			want:      "K10" + hash + "::server:s3cret",
		},
		{
			name:      "user secret replaces file",
			existing:  "K10" + hash + "::server:old\n",
			userToken: " s3cret\n",
			want:      "K10" + hash + "::server:s3cret",
		},
		{
			name:      "full user token for this CA",
			userToken: "K10" + hash + "::admin:pw",
			want:      "K10" + hash + "::admin:pw",
		},
		{
			name:      "user token without CA hash",
			userToken: "K10::server:pw",
			want:      "K10" + hash + "::server:pw",
		},
		{
			name:      "full user token for another CA",
			userToken: "K10" + otherHash + "::server:pw",
			wantErr:   "given token is for a CA with hash " + otherHash,
		},
		{
			name:     "file token for another CA",
			existing: "K10" + otherHash + "::server:pw\n",
			wantErr:  "remove the token file",
		},
		{
			name:      "malformed user token",
			userToken: "K10" + hash + "::nosecret",
			wantErr:   "form",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "server", "token")
			if tt.existing != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := EnsureToken(path, caPEM, tt.userToken)
			if tt.wantErr != "" {
				if err == nil || !regexp.MustCompile(tt.wantErr).MatchString(err.Error()) {
					t.Fatalf("error %v, want one matching %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(tt.want, "^") {
				if !regexp.MustCompile(tt.want).MatchString(got) {
					t.Errorf("token %q does not match %s", got, tt.want)
				}
			} else if got != tt.want {
				t.Errorf("token %q, want %q", got, tt.want)
			}

			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(data)) != got {
				t.Errorf("file holds %q, returned %q", data, got)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
				t.Errorf("token file mode %o, want 600", st.Mode().Perm())
			}
			// The next start, without --token, keeps the same token.
			again, err := EnsureToken(path, caPEM, "")
			if err != nil || again != got {
				t.Errorf("second call: %q, %v; want %q", again, err, got)
			}
		})
	}
}

func TestParseToken(t *testing.T) {
	hash := CAHash([]byte("ca"))
	tests := []struct {
		in               string
		hash, id, secret string
		wantErr          bool
	}{
		{in: "K10" + hash + "::server:abc", hash: hash, id: "server", secret: "abc"},
		{in: "K10" + strings.ToUpper(hash) + "::node:a:b", hash: hash, id: "node", secret: "a:b"},
		{in: "K10::server:abc", id: "server", secret: "abc"},
		{in: "K10server:abc", id: "server", secret: "abc"},
		{in: "bare-secret", secret: "bare-secret"},
		{in: "  bare\n", secret: "bare"},
		{in: "", wantErr: true},
		{in: "K10" + hash + "::server:", wantErr: true},
		{in: "K10" + hash + "::server", wantErr: true},
		{in: "K10abc::server:x", wantErr: true},
		{in: "K10" + strings.Repeat("z", 64) + "::server:x", wantErr: true},
		{in: "has space", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			h, id, s, err := ParseToken(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if h != tt.hash || id != tt.id || s != tt.secret {
				t.Errorf("got (%q, %q, %q), want (%q, %q, %q)", h, id, s, tt.hash, tt.id, tt.secret)
			}
		})
	}
}
