package streaming

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
)

// fakePods runs a few scripted "commands" in memory: the protocols under
// test are the handler's, not a runtime's.
type fakePods struct {
	logs map[string][]string // "ns/pod/container[/previous]" -> files
	mu   sync.Mutex
	// running answers ContainerRunning; a missing key means running.
	stopped map[string]bool
}

func (f *fakePods) LogFiles(ns, pod, container string, previous bool) ([]string, error) {
	key := ns + "/" + pod + "/" + container
	if previous {
		key += "/previous"
	}
	files, ok := f.logs[key]
	if !ok {
		if previous {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found", container, pod)
		}
		return nil, fmt.Errorf("container %q in pod %q: %w", container, pod, ErrNotFound)
	}
	return files, nil
}

func (f *fakePods) ContainerRunning(ns, pod, container string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.stopped[ns+"/"+pod+"/"+container]
}

func (f *fakePods) stop(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped == nil {
		f.stopped = map[string]bool{}
	}
	f.stopped[key] = true
}

// Exec understands:
//
//	exit N        exits with N
//	cat           copies stdin to stdout, exits 0 at EOF
//	echo A B      prints "A B\n" to stdout and "err\n" to stderr
//	size          prints the first terminal size it is given
func (f *fakePods) Exec(ctx context.Context, ns, pod, container string, cmd []string, s Streams) (int, error) {
	if container != "c" {
		return 0, fmt.Errorf("container %q: %w", container, ErrNotFound)
	}
	switch cmd[0] {
	case "exit":
		var n int
		fmt.Sscan(cmd[1], &n)
		return n, nil
	case "cat":
		_, err := io.Copy(s.Stdout, s.Stdin)
		return 0, err
	case "echo":
		fmt.Fprintln(s.Stdout, strings.Join(cmd[1:], " "))
		if s.Stderr != nil {
			fmt.Fprintln(s.Stderr, "err")
		}
		return 0, nil
	case "size":
		select {
		case sz, ok := <-s.Resize:
			if !ok {
				return 1, errors.New("no size")
			}
			fmt.Fprintf(s.Stdout, "%dx%d", sz.Width, sz.Height)
			return 0, nil
		case <-ctx.Done():
			return 1, ctx.Err()
		}
	}
	return 127, nil
}

// Attach echoes stdin upper-cased until it ends.
func (f *fakePods) Attach(ctx context.Context, ns, pod, container string, s Streams) error {
	buf := make([]byte, 1024)
	for {
		n, err := s.Stdin.Read(buf)
		if n > 0 {
			if _, werr := s.Stdout.Write([]byte(strings.ToUpper(string(buf[:n])))); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// PortForward connects to 127.0.0.1:port, standing in for the pod's
// network namespace.
func (f *fakePods) PortForward(ctx context.Context, ns, pod string, port int32, conn io.ReadWriteCloser) error {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	defer c.Close()
	errc := make(chan error, 2)
	go func() {
		_, err := io.Copy(c, conn)
		c.(*net.TCPConn).CloseWrite()
		errc <- err
	}()
	go func() { _, err := io.Copy(conn, c); errc <- err }()
	<-errc
	return nil
}
