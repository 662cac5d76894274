package podworker

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/agent/streaming"
	"github.com/vishvananda/netns"
)

// The Worker serves `kubectl logs`, `exec`, `attach` and `port-forward`
// (through agent/streaming, on the tunnel the agent opened).
var (
	_ streaming.Pods             = (*Worker)(nil)
	_ streaming.ContainerRunning = (*Worker)(nil)
)

// instance finds a container instance of a pod: the newest, or with
// previous the one before it.
func (w *Worker) instance(ns, name, container string, previous bool) (*pod, *runtime.ContainerStatus, error) {
	p := w.find(ns, name)
	if p == nil {
		return nil, nil, fmt.Errorf("%w: pod %s/%s is not on this node", streaming.ErrNotFound, ns, name)
	}
	all, err := p.instances(context.Background())
	if err != nil {
		return nil, nil, err
	}
	var insts []runtime.ContainerStatus
	for _, c := range all {
		if c.Name == container {
			insts = append(insts, c)
		}
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].Attempt > insts[j].Attempt })
	idx := 0
	if previous {
		idx = 1
	}
	if len(insts) <= idx {
		if previous {
			return nil, nil, fmt.Errorf("previous terminated container %q in pod %q not found", container, name)
		}
		if containerSpec(p.current(), container) == nil {
			return nil, nil, fmt.Errorf("container %s is not valid for pod %s", container, name)
		}
		return nil, nil, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", container, name)
	}
	return p, &insts[idx], nil
}

// LogFiles implements streaming.Pods.
func (w *Worker) LogFiles(ns, name, container string, previous bool) ([]string, error) {
	_, c, err := w.instance(ns, name, container, previous)
	if err != nil {
		return nil, err
	}
	// Rotated files are LogPath.1 (newest) … LogPath.N: oldest first.
	var files []string
	for i := 9; i >= 1; i-- {
		f := c.LogPath + "." + strconv.Itoa(i)
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	return append(files, c.LogPath), nil
}

// ContainerRunning implements streaming.ContainerRunning.
func (w *Worker) ContainerRunning(ns, name, container string) bool {
	_, c, err := w.instance(ns, name, container, false)
	return err == nil && c.State == runtime.StateRunning
}

func toRuntime(s streaming.Streams) runtime.Streams {
	rs := runtime.Streams{Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, TTY: s.TTY}
	if s.Resize != nil {
		ch := make(chan runtime.TermSize)
		go func() {
			defer close(ch)
			for sz := range s.Resize {
				ch <- runtime.TermSize{Width: sz.Width, Height: sz.Height}
			}
		}()
		rs.Resize = ch
	}
	return rs
}

func (w *Worker) running(ns, name, container string) (*runtime.ContainerStatus, error) {
	_, c, err := w.instance(ns, name, container, false)
	if err != nil {
		return nil, err
	}
	if c.State != runtime.StateRunning {
		return nil, fmt.Errorf("container %s is not running", container)
	}
	return c, nil
}

// Exec implements streaming.Pods.
func (w *Worker) Exec(ctx context.Context, ns, name, container string, cmd []string, s streaming.Streams) (int, error) {
	c, err := w.running(ns, name, container)
	if err != nil {
		return 0, err
	}
	return w.rt.Exec(ctx, c.ID, cmd, toRuntime(s))
}

// Attach implements streaming.Pods.
func (w *Worker) Attach(ctx context.Context, ns, name, container string, s streaming.Streams) error {
	c, err := w.running(ns, name, container)
	if err != nil {
		return err
	}
	return w.rt.Attach(ctx, c.ID, toRuntime(s))
}

// PortForward implements streaming.Pods: it connects to the port on the
// pod's loopback, inside its network namespace, as the kubelet does (so
// servers listening on 127.0.0.1 in the pod are reachable too).
func (w *Worker) PortForward(ctx context.Context, ns, name string, port int32, conn io.ReadWriteCloser) error {
	p := w.find(ns, name)
	if p == nil {
		return fmt.Errorf("%w: pod %s/%s is not on this node", streaming.ErrNotFound, ns, name)
	}
	spec := p.current()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	var target net.Conn
	var err error
	if spec.Spec.HostNetwork {
		target, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	} else {
		target, err = dialInNetNS(ctx, w.net.NetNSPath(string(spec.UID)), addr)
	}
	if err != nil {
		return fmt.Errorf("error forwarding port %d to pod %s: %w", port, name, err)
	}
	defer target.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(target, conn); closeWrite(target); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, target); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// dialInNetNS opens a TCP connection from inside the network namespace at
// path. The socket keeps its namespace after the thread switches back.
func dialInNetNS(ctx context.Context, path, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		// The thread is not unlocked: if switching back failed it must
		// not run other goroutines, and Go then ends it.
		orig, err := netns.Get()
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			ch <- result{nil, fmt.Errorf("pod network namespace: %w", err)}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			ch <- result{nil, err}
			return
		}
		c, derr := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err := netns.Set(orig); err == nil {
			goruntime.UnlockOSThread()
		}
		ch <- result{c, derr}
	}()
	r := <-ch
	if r.err != nil && strings.Contains(r.err.Error(), "connection refused") {
		return nil, fmt.Errorf("connection refused: nothing listens on %s in the pod", addr)
	}
	return r.c, r.err
}
