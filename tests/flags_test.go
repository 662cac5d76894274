package tests

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// serverFlagChecks names, for every flag of `skiff server --help`, where a
// test shows that the flag changes something observable: "inline" for
// TestServerFlags below, "local-node" for TestServerLocalNodeFlags, or
// the name of the test that does (it must exist and mention the flag).
// TestServerFlagWalk fails when a flag has no entry, so a new flag cannot
// be accepted and ignored unnoticed.
var serverFlagChecks = map[string]string{
	"advertise-address":           "inline",
	"bind-address":                "inline",
	"https-listen-port":           "inline",
	"service-cidr":                "inline",
	"service-node-port-range":     "inline",
	"tls-san":                     "inline",
	"write-kubeconfig":            "inline",
	"write-kubeconfig-mode":       "inline",
	"token-file":                  "inline",
	"debug":                       "inline",
	"v":                           "TestServerLogVerbosity",
	"data-dir":                    "inline",
	"config":                      "TestFlagsBeatEnvBeatFile",
	"token":                       "TestSharedKeySealed",
	"enable-pprof":                "TestProfilingIsForAdmins",
	"disable":                     "TestDisableIsRefused",
	"disable-agent":               "TestServerFlags",
	"disable-scheduler":           "TestDisableScheduler",
	"datastore-endpoint":          "TestTwoServersOneEtcd",
	"datastore-insecure":          "TestPlaintextEtcdRefused",
	"datastore-cafile":            "inline",
	"datastore-certfile":          "inline",
	"datastore-keyfile":           "inline",
	"datastore-compact-interval":  "TestCompactionBoundsSQLite",
	"leader-elect-lease-duration": "TestLeaderElection",
	"leader-elect-renew-deadline": "TestLeaderElection",
	"leader-elect-retry-period":   "TestLeaderElection",
	"node-name":                   "local-node",
	"node-ip":                     "local-node",
	"node-label":                  "local-node",
	"node-taint":                  "local-node",
	"cluster-cidr":                "local-node",
	"resolv-conf":                 "local-node",
	"container-runtime-endpoint":  "TestAgentJoinRefusals",
	"pause-image":                 "inline",
	"default-runtime":             "local-node",
	"private-registry":            "TestServerFlags",
	"terminated-pod-gc-threshold": "TestPodGC",
	"memory-limit":                "TestMemoryLimit",
	"eviction-hard":               "TestServerEvictionHard",
}

// TestServerFlagWalk walks `skiff server --help`: every flag has a check.
func TestServerFlagWalk(t *testing.T) {
	needIntegration(t)
	out, err := exec.Command(skiffBin, "server", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("skiff server --help: %v\n%s", err, out)
	}
	flags := regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1)
	if len(flags) < 20 {
		t.Fatalf("found only %d flags in:\n%s", len(flags), out)
	}
	sources := testSources(t)
	for _, m := range flags {
		name := m[1]
		if name == "help" {
			continue
		}
		where, ok := serverFlagChecks[name]
		switch {
		case !ok:
			t.Errorf("--%s has no check: make it change something observable and add it to serverFlagChecks", name)
		case where == "inline" || where == "local-node":
		default:
			body, found := sources[where]
			if !found {
				t.Errorf("--%s: check %s does not exist", name, where)
			} else if !strings.Contains(body, "--"+name) {
				t.Errorf("--%s: %s does not use the flag", name, where)
			}
		}
	}
}

// testSources maps test function names to their source, across the
// packages whose tests exercise server flags.
func testSources(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	var files []string
	for _, glob := range []string{"*_test.go", "../server/cmd/*_test.go", "../agent/runtime/*_test.go"} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	fn := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		locs := fn.FindAllStringSubmatchIndex(src, -1)
		for i, l := range locs {
			end := len(src)
			if i+1 < len(locs) {
				end = locs[i+1][0]
			}
			out[src[l[2]:l[3]]] = src[l[0]:end]
		}
	}
	return out
}

// TestServerFlags: the API server's own flags, on one running server.
func TestServerFlags(t *testing.T) {
	needIntegration(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "join-token")
	if err := os.WriteFile(tokenFile, []byte("flag-walk-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, withArgs(
		"--advertise-address", "10.11.12.13",
		"--service-cidr", "10.96.0.0/16",
		"--service-node-port-range", "31000-31010",
		"--tls-san", "skiff.flags.test",
		"--write-kubeconfig-mode", "0640",
		"--token-file", tokenFile,
		"--debug",
	))
	ctx := context.Background()
	c := s.client()

	// --data-dir, --write-kubeconfig and its mode.
	for _, f := range []string{filepath.Join(s.dataDir, "server", "tls", "server-ca.crt"), filepath.Join(s.dataDir, "server", "token")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("--data-dir: %v", err)
		}
	}
	if st, err := os.Stat(s.kubeconfig); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("--write-kubeconfig(-mode): %v %v, want mode 0640", st.Mode(), err)
	}
	// --token-file.
	if tok, _ := os.ReadFile(filepath.Join(s.dataDir, "server", "token")); !strings.HasSuffix(strings.TrimSpace(string(tok)), ":flag-walk-secret") {
		t.Errorf("--token-file: the server's token is %q", tok)
	}
	// --bind-address and --https-listen-port: the server answers there and
	// only there.
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(firstHostIP(t), strconv.Itoa(s.port)), time.Second); err == nil {
		conn.Close()
		t.Errorf("--bind-address 127.0.0.1: the server also listens on the host's address")
	}
	// --tls-san.
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.port), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	sans := conn.ConnectionState().PeerCertificates[0].DNSNames
	conn.Close()
	if !strings.Contains(strings.Join(sans, ","), "skiff.flags.test") {
		t.Errorf("--tls-san: serving certificate names %v", sans)
	}
	// --service-cidr and --advertise-address: the kubernetes Service and
	// its endpoints.
	eventually(t, 30*time.Second, "the kubernetes Service on 10.96.0.1 with endpoint 10.11.12.13", func() bool {
		svc, err := c.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil || svc.Spec.ClusterIP != "10.96.0.1" {
			return false
		}
		ep, err := c.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 1 && ep.Subsets[0].Addresses[0].IP == "10.11.12.13"
	})
	// --service-node-port-range.
	np := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
		Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}}}
	created, err := c.CoreV1().Services("default").Create(ctx, np, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := created.Spec.Ports[0].NodePort; p < 31000 || p > 31010 {
		t.Errorf("--service-node-port-range: allocated node port %d", p)
	}
	np.Name, np.Spec.Ports[0].NodePort = "np2", 30000
	if _, err := c.CoreV1().Services("default").Create(ctx, np, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "31000-31010") {
		t.Errorf("--service-node-port-range: node port 30000 outside the range: %v", err)
	}
	// --debug serves the profiler to admins.
	if r := do(t, s.adminHTTP(t), "GET", s.url()+"/debug/pprof/", "", "", nil); r.code != 200 {
		t.Errorf("--debug: /debug/pprof/ answered %d", r.code)
	}
	// --debug sets -v 4: client-go logs each informer's first listing at 2.
	eventually(t, 30*time.Second, "--debug: an informer's \"Caches populated\" in the server's log", func() bool {
		return strings.Contains(s.log.String(), "Caches populated")
	})

	// Flags read at start: a bad value stops the server with one line
	// naming it, before anything runs. (--disable-agent, set by the
	// harness, is what lets the server above start without containerd.)
	bad := filepath.Join(dir, "registries.yaml")
	if err := os.WriteFile(bad, []byte("mirrors: [not, a, map\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--private-registry", bad}, bad},
		{[]string{"--pause-image", "Not A:Reference"}, "--pause-image"},
		{[]string{"--default-runtime", "no-such-oci-runtime"}, "--default-runtime"},
		{[]string{"--v", "-1"}, "-v -1: want 0 or more"},
		{[]string{"--disable-agent", "--datastore-endpoint", "https://127.0.0.1:1", "--datastore-cafile", missing}, missing},
		{[]string{"--disable-agent", "--datastore-endpoint", "https://127.0.0.1:1", "--datastore-certfile", missing, "--datastore-keyfile", missing}, missing},
	} {
		args := append([]string{"server", "--data-dir", t.TempDir(), "--config", "", "--bind-address", "127.0.0.1",
			"--https-listen-port", strconv.Itoa(freePort(t))}, c.args...)
		cmd := exec.Command(skiffBin, args...)
		done := make(chan struct{})
		timer := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
		out, err := cmd.CombinedOutput()
		timer.Stop()
		close(done)
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%v: exit %v, want a refusal naming %q:\n%s", c.args, err, c.want, tail(string(out), 1000))
		}
	}
}

// TestServerLogVerbosity: --v 2 logs what client-go logs at 2 (each
// informer's first listing), which a server at the default 0 does not.
func TestServerLogVerbosity(t *testing.T) {
	needIntegration(t)
	quiet := startServer(t)
	s := startServer(t, withArgs("--v", "2"))
	eventually(t, 30*time.Second, `--v 2: an informer's "Caches populated" in the server's log`, func() bool {
		return strings.Contains(s.log.String(), "Caches populated")
	})
	quiet.mustKubectl("get", "--raw", "/readyz")
	if strings.Contains(quiet.log.String(), "Caches populated") {
		t.Errorf("a server at the default verbosity logged client-go's level-2 lines:\n%s", tail(quiet.log.String(), 2000))
	}
}

// firstHostIP is an IPv4 address of this machine other than loopback.
func firstHostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
	return ""
}

// TestServerLocalNodeFlags: the flags `skiff server` hands to its local
// agent shape the local node and its pods.
func TestServerLocalNodeFlags(t *testing.T) {
	needAgent(t)
	ip := firstHostIP(t)
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 10.9.9.9\nsearch flags.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, withAgent(), withArgs(
		"--node-name", "flagnode", "--node-ip", ip,
		"--node-label", "tier=edge", "--node-taint", "dedicated=skiff:NoSchedule",
		"--cluster-cidr", "10.77.0.0/16", "--resolv-conf", resolv,
		// runc even where crun is installed and usable (the default then).
		"--default-runtime", "runc",
	))
	waitNodeReady(t, s, "flagnode", 90*time.Second)
	out := s.mustKubectl("get", "node", "flagnode", "-o",
		`jsonpath={.metadata.labels.tier} {.spec.taints[?(@.key=="dedicated")].value} {.spec.taints[?(@.key=="dedicated")].effect} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}`)
	f := strings.Fields(out)
	if len(f) != 5 || f[0] != "edge" || f[1] != "skiff" || f[2] != "NoSchedule" || !strings.HasPrefix(f[3], "10.77.") || f[4] != ip {
		t.Fatalf("node label, taint, pod CIDR and InternalIP: %q (want edge skiff NoSchedule 10.77.x.0/24 %s)", out, ip)
	}
	s.mustKubectlStdin(`apiVersion: v1
kind: Pod
metadata: {name: dns}
spec:
  tolerations: [{key: dedicated, operator: Equal, value: skiff, effect: NoSchedule}]
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "cat /etc/resolv.conf; sleep 3600"]
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "dns", "Running", 90*time.Second)
	if podIP := podField(s, "default", "dns", "{.status.podIP}"); !strings.HasPrefix(podIP, "10.77.") {
		t.Errorf("--cluster-cidr: pod IP %q", podIP)
	}
	eventually(t, 30*time.Second, "the pod's resolv.conf to come from --resolv-conf", func() bool {
		out, err := s.kubectl("logs", "dns")
		return err == nil && strings.Contains(out, "nameserver 10.9.9.9")
	})
	if got := ociRuntimeOf(t, s, "default", "dns", "c"); got != "runc" {
		t.Errorf("--default-runtime runc: the container was created by %s", got)
	}
}
