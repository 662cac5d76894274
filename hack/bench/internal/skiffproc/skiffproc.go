// Package skiffproc starts, measures and stops `skiff server` processes for
// the benchmarks under hack/bench.
package skiffproc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is one `skiff server` process started by the benchmark.
type Server struct {
	cmd        *exec.Cmd
	done       chan struct{} // closed when the process has exited
	DataDir    string
	Kubeconfig string
	LogPath    string
	URL        string
	StartedAt  time.Time
	ReadyAfter time.Duration // from exec to the first 200 from /readyz
}

// Build builds the module's binary into dir.
func Build(ctx context.Context, dir, overlay string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the skiff module: run from the repository or pass -skiff")
	}
	bin := filepath.Join(dir, "skiff")
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(gomod), "hack", "build"))
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "OUT="+bin)
	if overlay != "" {
		cmd.Env = append(cmd.Env, "GOFLAGS=-overlay="+overlay)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s(if server/defaults or server/validation are unfinished, pass -overlay or -skiff)", err, stderr.String())
	}
	return bin, nil
}

// SyncBinary writes the binary at path back to disk, as an installed one
// long is. The kernel does not reclaim dirty pages, so a server started
// from a binary built a moment ago would keep the start-up pages it hands
// back (cliconfig.ReleaseStartupMemory) resident, and its RSS would say
// more than it does on a node.
func SyncBinary(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts skiff with a fresh data dir and waits for /readyz.
// extra flags are appended to the command line. On success the caller
// must call stop.
func Start(ctx context.Context, bin, dir string, extra ...string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		DataDir:    filepath.Join(dir, "data"),
		Kubeconfig: filepath.Join(dir, "kubeconfig.yaml"),
		LogPath:    filepath.Join(dir, "server.log"),
		URL:        "https://127.0.0.1:" + strconv.Itoa(port),
		done:       make(chan struct{}),
	}
	logFile, err := os.Create(s.LogPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor

	// --config= and a scrubbed environment keep a config file or SKIFF_*
	// variables on this machine from changing the settings measured.
	args := append([]string{"server",
		"--config=",
		"--data-dir", s.DataDir,
		"--disable-agent",
		"--write-kubeconfig", s.Kubeconfig,
		"--bind-address", "127.0.0.1",
		"--https-listen-port", strconv.Itoa(port),
	}, extra...)
	s.cmd = exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SKIFF_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// If the benchmark itself is killed, the server goes with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	s.StartedAt = time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, s.LogTail(20))
	}
	// client-go's kubeconfig is written before the listener serves, so it
	// exists once /readyz answers.
	if _, err := os.Stat(s.Kubeconfig); err != nil {
		s.Stop()
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return s, nil
}

// waitReady polls /readyz every 10ms until it answers 200.
func (s *Server) waitReady(ctx context.Context) error {
	// /readyz is public and the CA is not on disk yet when polling starts,
	// so this one client does not verify the self-signed certificate. It
	// talks only to 127.0.0.1:<port we chose>.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Second}

	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := hc.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ReadyAfter = time.Since(s.StartedAt)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return fmt.Errorf("skiff server exited before it was ready (%v)", s.cmd.ProcessState)
		case <-deadline.C:
			return errors.New("skiff server not ready after 60s")
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM, then SIGKILL if the server has not exited after 10s.
func (s *Server) Stop() { StopProcess("skiff server", s.cmd.Process, s.done, 10*time.Second) }

// StopProcess sends p SIGTERM, then SIGKILL if it has not exited (done is
// closed) after grace, and returns once it has exited.
func StopProcess(name string, p *os.Process, done <-chan struct{}, grace time.Duration) {
	select {
	case <-done:
		return
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		fmt.Fprintf(os.Stderr, "%s (pid %d) ignored SIGTERM for %v; killing it\n", name, p.Pid, grace)
		_ = p.Kill()
		<-done
	}
}

func (s *Server) PID() int { return s.cmd.Process.Pid }

// DBDir is where the embedded SQLite database lives.
func (s *Server) DBDir() string { return filepath.Join(s.DataDir, "server", "db") }

// KineEndpoint is the embedded kine's etcd v3 socket.
func (s *Server) KineEndpoint() string {
	return "unix://" + filepath.Join(s.DataDir, "server", "kine.sock")
}

// LogTail is the end of the server's log, for error messages.
func (s *Server) LogTail(lines int) string { return LogTail("server", s.LogPath, lines) }

// LogTail is the last lines of the log at path, headed by name, for error
// messages; "" when the log cannot be read.
func LogTail(name, path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return name + " log (last lines):\n  " + strings.Join(all, "\n  ")
}

// Memory is a process's resident set now and at its peak, and the current
// set split into anonymous memory (heap, stacks, SQLite's cache) and file
// pages (mostly the binary's own text, which the kernel can drop and reload).
type Memory struct{ RSS, HWM, Anon, File int64 } // bytes

// ReadMemory reads VmRSS, VmHWM, RssAnon and RssFile from /proc/<pid>/status.
func ReadMemory(pid int) (Memory, error) {
	fields, err := ProcFields(pid, "status")
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"VmRSS", &m.RSS}, {"VmHWM", &m.HWM}, {"RssAnon", &m.Anon}, {"RssFile", &m.File}} {
		n, err := strconv.ParseInt(strings.TrimSuffix(fields[f.name], " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%s: %w", f.name, err)
		}
		*f.dst = n * 1024
	}
	return m, nil
}

// ProcFields parses a "Key: value" file under /proc/<pid>.
func ProcFields(pid int, name string) (map[string]string, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out, sc.Err()
}

// Pause waits d or until ctx ends.
func Pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
