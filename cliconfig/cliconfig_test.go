package cliconfig

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// newFlags returns flags shaped like skiff server's, with the default
// config file at defaultConfig.
func newFlags(defaultConfig string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("config", defaultConfig, "config file")
	fs.String("data-dir", "/var/lib/skiff", "")
	fs.Int("https-listen-port", 6443, "")
	fs.Bool("disable-agent", false, "")
	fs.StringSlice("tls-san", nil, "")
	fs.StringArray("node-label", nil, "")
	fs.String("write-kubeconfig-mode", "", "")
	fs.Duration("eviction-timeout", 0, "")
	fs.BoolP("help", "h", false, "")
	return fs
}

// run parses args, writes file (if not "") as the default config file and
// applies env and file.
func run(t *testing.T, args, env []string, file string) (*pflag.FlagSet, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if file != "" {
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fs := newFlags(path)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs, Apply(fs, "config", env)
}

func TestEnvName(t *testing.T) {
	tests := map[string]string{
		"data-dir":              "SKIFF_DATA_DIR",
		"https-listen-port":     "SKIFF_HTTPS_LISTEN_PORT",
		"config":                "SKIFF_CONFIG",
		"write-kubeconfig-mode": "SKIFF_WRITE_KUBECONFIG_MODE",
	}
	for flag, want := range tests {
		if got := EnvName(flag); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flag, got, want)
		}
	}
}

func TestApplyPriority(t *testing.T) {
	kinds := []struct {
		flag     string
		cli      []string // command-line arguments
		env      string   // value of the flag's variable
		file     string   // the flag's line(s) in the config file
		def      string   // what each layer yields, as Value.String()
		fromFile string
		fromEnv  string
		fromCLI  string
	}{
		{
			flag: "data-dir", cli: []string{"--data-dir=/cli"}, env: "/env", file: "data-dir: /file",
			def: "/var/lib/skiff", fromFile: "/file", fromEnv: "/env", fromCLI: "/cli",
		},
		{
			flag: "https-listen-port", cli: []string{"--https-listen-port", "1111"}, env: "2222", file: "https-listen-port: 3333",
			def: "6443", fromFile: "3333", fromEnv: "2222", fromCLI: "1111",
		},
		{
			flag: "disable-agent", cli: []string{"--disable-agent"}, env: "false", file: "disable-agent: true",
			def: "false", fromFile: "true", fromEnv: "false", fromCLI: "true",
		},
		{
			flag: "tls-san", cli: []string{"--tls-san=c1,c2", "--tls-san=c3"}, env: "e1, e2", file: "tls-san: [f1, f2]",
			def: "[]", fromFile: "[f1,f2]", fromEnv: "[e1,e2]", fromCLI: "[c1,c2,c3]",
		},
		{
			flag: "node-label", cli: []string{"--node-label=a=1", "--node-label=b=2"}, env: "k=1,j=2", file: "node-label:\n  - \"f=1\"\n  - g=2",
			def: "[]", fromFile: "[f=1,g=2]", fromEnv: "[k=1,j=2]", fromCLI: "[a=1,b=2]",
		},
		{
			flag: "eviction-timeout", cli: []string{"--eviction-timeout=1m"}, env: "2m", file: "eviction-timeout: 3m",
			def: "0s", fromFile: "3m0s", fromEnv: "2m0s", fromCLI: "1m0s",
		},
	}
	for _, k := range kinds {
		envVar := []string{EnvName(k.flag) + "=" + k.env}
		layers := []struct {
			name        string
			args, env   []string
			file        string
			want        string
			wantChanged bool
		}{
			{name: "default", want: k.def},
			{name: "file", file: k.file, want: k.fromFile, wantChanged: true},
			{name: "env over file", env: envVar, file: k.file, want: k.fromEnv, wantChanged: true},
			{name: "env without file", env: envVar, want: k.fromEnv, wantChanged: true},
			{name: "flag over env and file", args: k.cli, env: envVar, file: k.file, want: k.fromCLI, wantChanged: true},
		}
		for _, l := range layers {
			t.Run(k.flag+"/"+l.name, func(t *testing.T) {
				fs, err := run(t, l.args, l.env, l.file)
				if err != nil {
					t.Fatal(err)
				}
				f := fs.Lookup(k.flag)
				if got := f.Value.String(); got != l.want {
					t.Errorf("value %s, want %s", got, l.want)
				}
				if f.Changed != l.wantChanged {
					t.Errorf("Changed = %v, want %v", f.Changed, l.wantChanged)
				}
			})
		}
	}
}

func TestApplyFileValues(t *testing.T) {
	tests := []struct {
		name string
		file string
		flag string
		want string
	}{
		{"scalar for a comma-splitting list", "tls-san: a.example.com,10.0.0.1", "tls-san", "a.example.com|10.0.0.1"},
		{"scalar for an array list keeps commas", "node-label: k=v,w", "node-label", "k=v,w"},
		{"list items keep commas", "node-label: [\"k=v,w\", x=y]", "node-label", "k=v,w|x=y"},
		{"empty list clears", "tls-san: []", "tls-san", ""},
		{"octal-looking value kept as written", "write-kubeconfig-mode: 0644", "write-kubeconfig-mode", "0644"},
		{"quoted value", "data-dir: \"/x y\"", "data-dir", "/x y"},
		{"null leaves the default", "data-dir:\n", "data-dir", "/var/lib/skiff"},
		{"anchors and aliases", "data-dir: &d /srv\nwrite-kubeconfig-mode: *d", "write-kubeconfig-mode", "/srv"},
		{"empty file", "# nothing here\n", "data-dir", "/var/lib/skiff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := run(t, nil, nil, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			v := fs.Lookup(tt.flag).Value
			got := v.String()
			if sv, ok := v.(pflag.SliceValue); ok {
				got = strings.Join(sv.GetSlice(), "|") // items, unquoted
			}
			if got != tt.want {
				t.Errorf("%s = %s, want %s", tt.flag, got, tt.want)
			}
		})
	}
}

func TestApplyConfigFileLocation(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte("data-dir: /from-other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.yaml")
	tests := []struct {
		name    string
		args    []string
		env     []string
		want    string
		wantErr string
	}{
		{name: "default file absent is fine", want: "/var/lib/skiff"},
		{name: "--config", args: []string{"--config", other}, want: "/from-other"},
		{name: "SKIFF_CONFIG", env: []string{"SKIFF_CONFIG=" + other}, want: "/from-other"},
		{name: "--config over SKIFF_CONFIG", args: []string{"--config=" + other}, env: []string{"SKIFF_CONFIG=" + missing}, want: "/from-other"},
		{name: "--config missing", args: []string{"--config", missing}, wantErr: "config file " + missing + ": "},
		{name: "SKIFF_CONFIG missing", env: []string{"SKIFF_CONFIG=" + missing}, wantErr: "config file " + missing + ": "},
		{name: "empty --config disables the file", args: []string{"--config="}, want: "/var/lib/skiff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := run(t, tt.args, tt.env, "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := fs.GetString("data-dir"); got != tt.want {
				t.Errorf("data-dir = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		file    string
		wantErr []string // substrings; "PATH" stands for the config file
	}{
		{
			name:    "unknown key",
			file:    "data-dir: /x\nfoo: 1\n",
			wantErr: []string{`config file PATH: unknown key "foo"`, "line 2"},
		},
		{
			name:    "help is not configurable",
			file:    "help: true\n",
			wantErr: []string{`unknown key "help"`},
		},
		{
			name:    "config key in the file",
			file:    "config: /etc/other.yaml\n",
			wantErr: []string{`key "config"`, "cannot be set in the config file"},
		},
		{
			name:    "bad YAML",
			file:    "data-dir: /x\ntls-san: a: b\n",
			wantErr: []string{"config file PATH: ", "line 2"},
		},
		{
			name:    "top level is not a mapping",
			file:    "- data-dir\n",
			wantErr: []string{"want a mapping"},
		},
		{
			name:    "duplicate key",
			file:    "data-dir: /a\ndata-dir: /b\n",
			wantErr: []string{`key "data-dir" (line 2) is already set on line 1`},
		},
		{
			name:    "list for a single-valued flag",
			file:    "data-dir: [a, b]\n",
			wantErr: []string{`key "data-dir" (line 1) takes a single value`},
		},
		{
			name:    "mapping value",
			file:    "node-label:\n  k: v\n",
			wantErr: []string{`key "node-label" (line 2): want a value or a list`},
		},
		{
			name:    "bad int in file",
			file:    "\nhttps-listen-port: abc\n",
			wantErr: []string{`config file PATH: invalid value "abc" for key "https-listen-port" (line 2): `, "invalid syntax"},
		},
		{
			name:    "bad bool in file",
			file:    "disable-agent: yes please\n",
			wantErr: []string{`invalid value "yes please" for key "disable-agent"`},
		},
		{
			name:    "bad int in env",
			env:     []string{"SKIFF_HTTPS_LISTEN_PORT=abc"},
			wantErr: []string{`SKIFF_HTTPS_LISTEN_PORT: invalid value "abc" for --https-listen-port: `, "invalid syntax"},
		},
		{
			name:    "bad bool in env",
			env:     []string{"SKIFF_DISABLE_AGENT=maybe"},
			wantErr: []string{`SKIFF_DISABLE_AGENT: invalid value "maybe" for --disable-agent: `},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			fs := newFlags(path)
			err := Apply(fs, "config", tt.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.wantErr {
				want = strings.ReplaceAll(want, "PATH", path)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestApplyEnvironDetails(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"empty variable is ignored", []string{"SKIFF_DATA_DIR="}, "/var/lib/skiff"},
		{"first duplicate wins", []string{"SKIFF_DATA_DIR=/a", "SKIFF_DATA_DIR=/b"}, "/a"},
		{"value may contain =", []string{"SKIFF_DATA_DIR=/a=b"}, "/a=b"},
		{"other variables ignored", []string{"DATA_DIR=/x", "skiff_data_dir=/y", "PATH=/bin"}, "/var/lib/skiff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := run(t, nil, tt.env, "")
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := fs.GetString("data-dir"); got != tt.want {
				t.Errorf("data-dir = %q, want %q", got, tt.want)
			}
		})
	}
}

// Flags filled by Apply must look set to code that uses Visit, as cobra's
// flag groups and our own "was it given?" checks do.
func TestApplyRecordsFlagsAsSet(t *testing.T) {
	fs, err := run(t, []string{"--data-dir=/cli"}, []string{"SKIFF_TLS_SAN=a,b"}, "node-label: [k=v]\nhttps-listen-port: 1\n")
	if err != nil {
		t.Fatal(err)
	}
	var visited []string
	fs.Visit(func(f *pflag.Flag) { visited = append(visited, f.Name) })
	want := "data-dir,https-listen-port,node-label,tls-san"
	if got := strings.Join(visited, ","); got != want {
		t.Errorf("visited %s, want %s", got, want)
	}
	// The wrapper used while setting must not be left behind.
	if _, ok := fs.Lookup("tls-san").Value.(*applyValue); ok {
		t.Error("flag value left wrapped")
	}
	if got, _ := fs.GetStringSlice("tls-san"); strings.Join(got, ",") != "a,b" {
		t.Errorf("GetStringSlice = %v", got)
	}
}
