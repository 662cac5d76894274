package tests

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// skiffBin is the binary under test, built once by TestMain, and
// agentOnlyBin the agent-only build (AGENT_ONLY=1 hack/build).
var skiffBin, agentOnlyBin string

func TestMain(m *testing.M) {
	code := func() int {
		flag.Parse()
		if testing.Short() {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "skiff-tests-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		skiffBin = filepath.Join(dir, "skiff")
		build := exec.Command("../hack/build")
		build.Env = append(os.Environ(), "OUT="+skiffBin)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building skiff:", err)
			return 1
		}
		agentOnlyBin = filepath.Join(dir, "skiff-agent")
		build = exec.Command("../hack/build")
		build.Env = append(os.Environ(), "OUT="+agentOnlyBin, "AGENT_ONLY=1")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the agent-only skiff:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// needIntegration skips under -short and when a tool the test drives is
// genuinely absent (CI installs all of them).
func needIntegration(t *testing.T, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (CI installs it: see .ci/run)", tool)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is one running `skiff server` process.
type server struct {
	t          *testing.T
	cmd        *exec.Cmd
	dataDir    string
	port       int
	kubeconfig string
	args       []string
	env        []string // added to this process's environment
	agent      bool     // run the local agent (needAgent first)
	log        *lockedBuffer
	exited     chan struct{}
}

type serverOption func(*server)

func withArgs(a ...string) serverOption { return func(s *server) { s.args = append(s.args, a...) } }

// withEnv adds KEY=value entries to the server's environment (later
// entries win, so "KEY=" hides one of this process's).
func withEnv(kv ...string) serverOption { return func(s *server) { s.env = append(s.env, kv...) } }

// startServer starts skiff and waits until /readyz answers.
func startServer(t *testing.T, opts ...serverOption) *server {
	t.Helper()
	s := &server{t: t}
	for _, o := range opts {
		o(s)
	}
	if s.dataDir == "" {
		s.dataDir = t.TempDir()
	}
	if s.port == 0 {
		s.port = freePort(t)
	}
	s.kubeconfig = filepath.Join(s.dataDir, "kubeconfig.yaml")
	if s.agent {
		prepareAgentDir(t, s.dataDir)
	}
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log (%s):\n%s", s.dataDir, tail(s.log.String(), 4000))
		}
	})
	return s
}

func (s *server) start() {
	s.t.Helper()
	args := []string{"server", "--data-dir", s.dataDir,
		"--bind-address", "127.0.0.1", "--https-listen-port", strconv.Itoa(s.port),
		"--write-kubeconfig", s.kubeconfig, "--config", ""}
	if !s.agent {
		args = append(args, "--disable-agent")
	} else {
		args = withTestEvictionHard(args, s.args)
	}
	args = append(args, s.args...)
	s.cmd = exec.Command(skiffBin, args...)
	if len(s.env) > 0 {
		s.cmd.Env = append(os.Environ(), s.env...)
	}
	s.log = &lockedBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func(c *exec.Cmd, ch chan struct{}) { _ = c.Wait(); close(ch) }(s.cmd, s.exited)
	s.waitReady(30 * time.Second)
}

func (s *server) url() string { return "https://127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) waitReady(timeout time.Duration) {
	s.t.Helper()
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			s.t.Fatalf("skiff server exited during start:\n%s", s.log.String())
		default:
		}
		resp, err := c.Get(s.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if _, err := os.Stat(s.kubeconfig); err == nil {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("skiff server not ready after %s:\n%s", timeout, s.log.String())
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		// SIGQUIT makes the Go runtime print every goroutine, which shows
		// what the shutdown waits for.
		before := len(s.log.String())
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.exited:
		case <-time.After(3 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		s.t.Errorf("skiff server did not stop within 15s of SIGTERM; its goroutines then:\n%s", s.log.String()[before:])
	}
}

// kill sends SIGKILL, as a power cut or OOM kill would.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// kubectl runs the real kubectl against the server.
func (s *server) kubectl(args ...string) (string, error) {
	return s.kubectlStdin("", args...)
}

func (s *server) kubectlStdin(stdin string, args ...string) (string, error) {
	cmd, cancel := s.kubectlCmd(stdin, args...)
	defer cancel()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kubectlCmd is the real kubectl against the server with args, stdin
// (when not empty) as its input and a minute to run; cancel ends it.
func (s *server) kubectlCmd(stdin string, args ...string) (cmd *exec.Cmd, cancel func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd = exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", s.kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECTL_KUBERC=false")
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	return cmd, cancel
}

// kubectlOut is kubectlStdin with kubectl's standard output alone, for a
// test that compares what a command in a pod printed: kubectl's own
// messages go to stderr, and over WebSocket client-go may log "Unknown
// stream id 1, discarding message" there for the empty message every
// server (kube-apiserver's too) sends on stdout to say that the streams
// are up. Stderr is in the error.
func (s *server) kubectlOut(stdin string, args ...string) (string, error) {
	cmd, cancel := s.kubectlCmd(stdin, args...)
	defer cancel()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%w\n%s", err, stderr.String())
	}
	return string(out), err
}

// mustKubectlOut is kubectlOut without stdin, failing the test on error.
func (s *server) mustKubectlOut(args ...string) string {
	s.t.Helper()
	out, err := s.kubectlOut("", args...)
	if err != nil {
		s.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *server) mustKubectl(args ...string) string {
	s.t.Helper()
	out, err := s.kubectl(args...)
	if err != nil {
		s.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *server) restConfig() *rest.Config {
	s.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		s.t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	return cfg
}

func (s *server) client() kubernetes.Interface {
	s.t.Helper()
	c, err := kubernetes.NewForConfig(s.restConfig())
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}
