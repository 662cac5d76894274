package main

import (
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

// server is one `skiff server` process started by the benchmark.
type server struct {
	cmd        *exec.Cmd
	done       chan struct{} // closed when the process has exited
	dataDir    string
	kubeconfig string
	logPath    string
	url        string
	startedAt  time.Time
	readyAfter time.Duration // from exec to the first 200 from /readyz
}

// buildSkiff builds the module's binary into dir.
func buildSkiff(ctx context.Context, dir, overlay string) (string, error) {
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

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts skiff with a fresh data dir and waits for /readyz.
// On success the caller must call stop.
func startServer(ctx context.Context, bin, dir string) (*server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{
		dataDir:    filepath.Join(dir, "data"),
		kubeconfig: filepath.Join(dir, "kubeconfig.yaml"),
		logPath:    filepath.Join(dir, "server.log"),
		url:        "https://127.0.0.1:" + strconv.Itoa(port),
		done:       make(chan struct{}),
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor

	// --config= and a scrubbed environment keep a config file or SKIFF_*
	// variables on this machine from changing the settings measured.
	s.cmd = exec.Command(bin, "server",
		"--config=",
		"--data-dir", s.dataDir,
		"--disable-agent",
		"--write-kubeconfig", s.kubeconfig,
		"--bind-address", "127.0.0.1",
		"--https-listen-port", strconv.Itoa(port),
	)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SKIFF_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// If the benchmark itself is killed, the server goes with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	s.startedAt = time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, s.logTail(20))
	}
	// client-go's kubeconfig is written before the listener serves, so it
	// exists once /readyz answers.
	if _, err := os.Stat(s.kubeconfig); err != nil {
		s.stop()
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return s, nil
}

// waitReady polls /readyz every 10ms until it answers 200.
func (s *server) waitReady(ctx context.Context) error {
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
		resp, err := hc.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.readyAfter = time.Since(s.startedAt)
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

// stop sends SIGTERM, then SIGKILL if the server has not exited after 10s.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		logf("skiff server (pid %d) ignored SIGTERM for 10s; killing it", s.cmd.Process.Pid)
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// dbDir is where the embedded SQLite database lives.
func (s *server) dbDir() string { return filepath.Join(s.dataDir, "server", "db") }

// kineEndpoint is the embedded kine's etcd v3 socket.
func (s *server) kineEndpoint() string {
	return "unix://" + filepath.Join(s.dataDir, "server", "kine.sock")
}

// logTail is the end of the server's log, for error messages.
func (s *server) logTail(lines int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "server log (last lines):\n  " + strings.Join(all, "\n  ")
}
