package runtime

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestNormalizeImage(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":            "docker.io/library/busybox:latest",
		"busybox:1.36":       "docker.io/library/busybox:1.36",
		"skiff/agent":        "docker.io/skiff/agent:latest",
		"quay.io/x/y:2":      "quay.io/x/y:2",
		"127.0.0.1:5000/a/b": "127.0.0.1:5000/a/b:latest",
		"busybox@sha256:" + strings.Repeat("a", 64): "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64),
	} {
		got, err := NormalizeImage(in)
		if err != nil || got != want {
			t.Errorf("NormalizeImage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeImage("Not A Ref"); err == nil {
		t.Error("NormalizeImage accepted an invalid reference")
	}
}

func TestProcessArgs(t *testing.T) {
	ic := ocispec.ImageConfig{Entrypoint: []string{"/ep"}, Cmd: []string{"c1", "c2"}}
	for _, tc := range []struct {
		name      string
		cmd, args []string
		want      []string
	}{
		{"image defaults", nil, nil, []string{"/ep", "c1", "c2"}},
		{"args replace cmd", nil, []string{"a"}, []string{"/ep", "a"}},
		{"command replaces both", []string{"/bin/x"}, nil, []string{"/bin/x"}},
		{"command and args", []string{"/bin/x"}, []string{"a"}, []string{"/bin/x", "a"}},
	} {
		got := processArgs(ContainerConfig{Command: tc.cmd, Args: tc.args}, ic)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: %s", tc.name, diff)
		}
	}
}

func applySpec(t *testing.T, opts []oci.SpecOpts) *oci.Spec {
	t.Helper()
	s := &oci.Spec{Process: &specs.Process{}, Linux: &specs.Linux{}}
	ctx := namespaces.WithNamespace(t.Context(), Namespace)
	// Start from containerd's default spec, as NewContainer does.
	if err := oci.WithDefaultSpec()(ctx, nil, &containers.Container{ID: "x"}, s); err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		if err := o(ctx, nil, &containers.Container{ID: "x"}, s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestResourceOpts(t *testing.T) {
	q := resource.MustParse
	for _, tc := range []struct {
		name   string
		res    corev1.ResourceRequirements
		shares uint64
		quota  int64
		mem    int64
	}{
		{"best effort", corev1.ResourceRequirements{}, 2, 0, 0},
		{"requests only", corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("250m"), "memory": q("64Mi")}}, 256, 0, 0},
		{"limits default requests", corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q("2"), "memory": q("1Gi")}}, 2048, 200000, 1 << 30},
		{"tiny limit keeps a minimum quota", corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q("1m")}}, 2, 1000, 0},
	} {
		s := applySpec(t, resourceOpts(tc.res))
		r := s.Linux.Resources
		if r == nil || r.CPU == nil || r.CPU.Shares == nil || *r.CPU.Shares != tc.shares {
			t.Errorf("%s: shares %+v, want %d", tc.name, r.CPU, tc.shares)
			continue
		}
		var quota int64
		if r.CPU.Quota != nil {
			quota = *r.CPU.Quota
			if *r.CPU.Period != cpuPeriod {
				t.Errorf("%s: period %d", tc.name, *r.CPU.Period)
			}
		}
		if quota != tc.quota {
			t.Errorf("%s: quota %d, want %d", tc.name, quota, tc.quota)
		}
		var mem int64
		if r.Memory != nil && r.Memory.Limit != nil {
			mem = *r.Memory.Limit
		}
		if mem != tc.mem {
			t.Errorf("%s: memory %d, want %d", tc.name, mem, tc.mem)
		}
	}
}

func TestSecurityCapabilities(t *testing.T) {
	base := applySpec(t, nil).Process.Capabilities.Bounding
	if len(base) == 0 {
		t.Fatal("default spec has no capabilities")
	}
	for _, tc := range []struct {
		name      string
		caps      *corev1.Capabilities
		has, lack []string
		exactly   []string
	}{
		{"default", nil, []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"}, []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}, nil},
		{"add and drop", &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"chown"}}, []string{"CAP_NET_ADMIN", "CAP_KILL"}, []string{"CAP_CHOWN"}, nil},
		{"drop all, add one", &corev1.Capabilities{Add: []corev1.Capability{"CAP_NET_BIND_SERVICE"}, Drop: []corev1.Capability{"ALL"}}, nil, nil, []string{"CAP_NET_BIND_SERVICE"}},
	} {
		opts, err := securityOpts(&corev1.SecurityContext{Capabilities: tc.caps}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := applySpec(t, opts)
		for _, set := range [][]string{s.Process.Capabilities.Bounding, s.Process.Capabilities.Effective, s.Process.Capabilities.Permitted} {
			in := map[string]bool{}
			for _, c := range set {
				in[c] = true
			}
			for _, c := range tc.has {
				if !in[c] {
					t.Errorf("%s: %s missing from %v", tc.name, c, set)
				}
			}
			for _, c := range tc.lack {
				if in[c] {
					t.Errorf("%s: %s present in %v", tc.name, c, set)
				}
			}
			if tc.exactly != nil && !cmp.Equal(set, tc.exactly) {
				t.Errorf("%s: caps %v, want %v", tc.name, set, tc.exactly)
			}
		}
	}

	no := false
	opts, _ := securityOpts(&corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: ptr(true)}, nil)
	s := applySpec(t, opts)
	if !s.Process.NoNewPrivileges || !s.Root.Readonly {
		t.Errorf("noNewPrivileges %v, readonly root %v", s.Process.NoNewPrivileges, s.Root.Readonly)
	}
	opts, _ = securityOpts(&corev1.SecurityContext{Privileged: ptr(true)}, nil)
	s = applySpec(t, opts)
	if len(s.Process.Capabilities.Bounding) <= len(base) || len(s.Linux.MaskedPaths) != 0 {
		t.Errorf("privileged: %d caps, masked %v", len(s.Process.Capabilities.Bounding), s.Linux.MaskedPaths)
	}
}

func TestBindMounts(t *testing.T) {
	ms, prop := bindMounts([]Mount{
		{HostPath: "/a", ContainerPath: "/a", ReadOnly: true},
		{HostPath: "/b", ContainerPath: "/b", Propagation: "HostToContainer"},
	})
	want := []specs.Mount{
		{Destination: "/a", Type: "bind", Source: "/a", Options: []string{"rbind", "ro", "rprivate"}},
		{Destination: "/b", Type: "bind", Source: "/b", Options: []string{"rbind", "rw", "rslave"}},
	}
	if diff := cmp.Diff(want, ms); diff != "" || prop != "rslave" {
		t.Errorf("mounts (-want +got): %s; root propagation %q", diff, prop)
	}
	if _, prop := bindMounts([]Mount{{HostPath: "/c", ContainerPath: "/c", Propagation: "Bidirectional"}, {HostPath: "/d", ContainerPath: "/d", Propagation: "HostToContainer"}}); prop != "rshared" {
		t.Errorf("bidirectional root propagation %q", prop)
	}
}

func TestRegistriesHosts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "registries.yaml")
	os.WriteFile(file, []byte(`
mirrors:
  docker.io:
    endpoint:
      - "http://10.0.0.1:5000"
      - "mirror.example.com"
  "*":
    endpoint:
      - "https://catchall.example.com/prefix"
configs:
  "mirror.example.com":
    auth:
      username: u
      password: p
    tls:
      insecure_skip_verify: true
  "quay.io":
    auth:
      auth: `+base64.StdEncoding.EncodeToString([]byte("qu:qp"))+`
`), 0o600)
	regs, err := loadRegistries(file)
	if err != nil {
		t.Fatal(err)
	}
	secrets := pullSecretCredentials([]corev1.Secret{{
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"https://index.docker.io/v1/":{"username":"hub","password":"hp"},"quay.io":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("sq:sp")) + `"}}}`)},
	}})

	type host struct{ Scheme, Host, Path string }
	hostsOf := func(registry string) []host {
		hs, err := regs.hosts(secrets)(registry)
		if err != nil {
			t.Fatal(err)
		}
		var out []host
		for _, h := range hs {
			out = append(out, host{h.Scheme, h.Host, h.Path})
		}
		return out
	}
	for reg, want := range map[string][]host{
		"docker.io":      {{"http", "10.0.0.1:5000", "/v2"}, {"https", "mirror.example.com", "/v2"}, {"https", "registry-1.docker.io", "/v2"}},
		"quay.io":        {{"https", "catchall.example.com", "/prefix/v2"}, {"https", "quay.io", "/v2"}},
		"127.0.0.1:5000": {{"https", "catchall.example.com", "/prefix/v2"}, {"http", "127.0.0.1:5000", "/v2"}},
	} {
		if diff := cmp.Diff(want, hostsOf(reg)); diff != "" {
			t.Errorf("hosts for %s (-want +got): %s", reg, diff)
		}
	}
	if c := secrets["registry-1.docker.io"]; c != [2]string{"hub", "hp"} {
		t.Errorf("docker hub pull secret %v", c)
	}
	if c := secrets["quay.io"]; c != [2]string{"sq", "sp"} {
		t.Errorf("quay pull secret %v", c)
	}
	if u, p, _ := regs.Configs["quay.io"].Auth.credentials(); u != "qu" || p != "qp" {
		t.Errorf("registries.yaml auth %q %q", u, p)
	}
	if tc, _ := regs.Configs["mirror.example.com"].tlsConfig(); !tc.InsecureSkipVerify {
		t.Error("insecure_skip_verify not applied")
	}
	if regs, err := loadRegistries(filepath.Join(dir, "absent.yaml")); err != nil || len(regs.Mirrors) != 0 {
		t.Errorf("missing registries file: %v %v", regs, err)
	}
}

func TestCRIWriterRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c", "0.log")
	w, err := openCRIWriter(path, 200, 3)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for i := 0; i < 20; i++ {
		if err := w.WriteEntry(at, "stdout", i%2 == 1, []byte(strings.Repeat("x", 40))); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	b, _ := os.ReadFile(path)
	first := strings.SplitN(string(b), "\n", 2)[0]
	if first != "2026-01-02T03:04:05.000006Z stdout F "+strings.Repeat("x", 40) && first != "2026-01-02T03:04:05.000006Z stdout P "+strings.Repeat("x", 40) {
		t.Errorf("entry %q", first)
	}
	for _, p := range []string{path, path + ".1", path + ".2"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if fi.Size() > 200 {
			t.Errorf("%s is %d bytes, over the 200 limit", p, fi.Size())
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("more files kept than max-files")
	}
	ts, stream, partial, text, err := ParseCRILine([]byte(first))
	if err != nil || !ts.Equal(at) || stream != "stdout" || partial || string(text) != strings.Repeat("x", 40) {
		t.Errorf("ParseCRILine: %v %q %v %q %v", ts, stream, partial, text, err)
	}
}

func TestCopyCRISplitsLongLines(t *testing.T) {
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cw, _ := openCRIWriter(filepath.Join(dir, "0.log"), 1<<20, 2)
	go func() {
		w.Write([]byte(strings.Repeat("y", maxLogLine+10) + "\nshort\nno newline"))
		w.Close()
	}()
	copyCRI(r, "stderr", cw)
	cw.Close()
	b, _ := os.ReadFile(filepath.Join(dir, "0.log"))
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		_, s, p, text, err := ParseCRILine([]byte(l))
		if err != nil || s != "stderr" {
			t.Fatalf("line %q: %v", l, err)
		}
		tag := "F"
		if p {
			tag = "P"
		}
		got = append(got, tag+":"+string(text[:min(len(text), 5)])+":"+strconv.Itoa(len(text)))
	}
	want := []string{"P:yyyyy:" + strconv.Itoa(maxLogLine), "F:yyyyy:10", "F:short:5", "F:no ne:10"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got): %s", diff)
	}
}
