package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// TermSize is a terminal size in characters.
type TermSize struct{ Width, Height uint16 }

// Streams are the client's ends of an exec or attach session. Nil streams
// are not connected. With TTY, output comes on Stdout only.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	Resize         <-chan TermSize
}

// Exec runs cmd in the running container id, with the container's user,
// environment and working directory, and returns its exit code.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, s Streams) (int, error) {
	if len(cmd) == 0 {
		return -1, errors.New("runtime: exec: empty command")
	}
	ctr, _, err := r.loadSkiff(ctx, id)
	if err != nil {
		return -1, err
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return -1, fmt.Errorf("runtime: exec in %s: container is not running", id)
		}
		return -1, fmt.Errorf("runtime: exec in %s: %w", id, err)
	}
	spec, err := ctr.Spec(ctx)
	if err != nil {
		return -1, fmt.Errorf("runtime: exec in %s: %w", id, err)
	}
	pspec := *spec.Process
	pspec.Args = cmd
	pspec.Terminal = s.TTY
	pspec.ConsoleSize = nil

	var rnd [8]byte
	rand.Read(rnd[:])
	execID := "exec-" + hex.EncodeToString(rnd[:])
	fifoDir := filepath.Join(r.opts.Dir, "io", "exec")
	if err := os.MkdirAll(fifoDir, 0o700); err != nil {
		return -1, fmt.Errorf("runtime: exec: %w", err)
	}
	// containerd 1.6 shims need both output paths: unwanted output is
	// discarded here.
	stdout, stderr := s.Stdout, s.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	if s.TTY {
		stderr = nil
	}
	// The shim keeps the stdin FIFO open itself: the end of the client's
	// stdin is passed on with CloseIO.
	var stdin io.Reader
	stdinDone := make(chan struct{})
	if s.Stdin != nil {
		stdin = &eofReader{r: s.Stdin, eof: stdinDone}
	}
	opts := []cio.Opt{cio.WithStreams(stdin, stdout, stderr), cio.WithFIFODir(fifoDir)}
	if s.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	proc, err := task.Exec(ctx, execID, &pspec, cio.NewCreator(opts...))
	if err != nil {
		return -1, fmt.Errorf("runtime: exec in %s: %w", id, err)
	}
	// Cleanup runs even when ctx is cancelled.
	defer proc.Delete(context.WithoutCancel(ctx), containerd.WithProcessKill)
	exitCh, err := proc.Wait(ctx)
	if err != nil {
		return -1, fmt.Errorf("runtime: exec in %s: %w", id, err)
	}
	if err := proc.Start(ctx); err != nil {
		return -1, fmt.Errorf("runtime: exec in %s: %w", id, err)
	}
	stopResize := r.forwardResize(ctx, s.Resize, func(ctx context.Context, w, h uint32) error { return proc.Resize(ctx, w, h) })
	defer stopResize()
	for {
		select {
		case <-stdinDone:
			proc.CloseIO(ctx, containerd.WithStdinCloser)
			stdinDone = nil
			continue
		case st := <-exitCh:
			proc.IO().Wait()
			code, _, err := st.Result()
			if err != nil {
				return -1, fmt.Errorf("runtime: exec in %s: %w", id, err)
			}
			return int(code), nil
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
}

// eofReader closes eof when r reports its end.
type eofReader struct {
	r    io.Reader
	eof  chan struct{}
	once sync.Once
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.once.Do(func() { close(e.eof) })
	}
	return n, err
}

// forwardResize applies terminal size changes until the returned stop is
// called; stop returns once the goroutine has ended.
func (r *Runtime) forwardResize(ctx context.Context, ch <-chan TermSize, resize func(context.Context, uint32, uint32) error) (stop func()) {
	if ch == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case sz, ok := <-ch:
				if !ok {
					return
				}
				resize(ctx, uint32(sz.Width), uint32(sz.Height))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// Attach streams the running container's output live (read from its log as
// the agent writes it) and, for a container with stdin and a TTY, feeds
// s.Stdin to it. It returns when the container exits or ctx ends. Stdin of
// containers without a TTY is not connected.
func (r *Runtime) Attach(ctx context.Context, id string, s Streams) error {
	ctr, labels, err := r.loadSkiff(ctx, id)
	if err != nil {
		return err
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("runtime: attach to %s: container is not running", id)
		}
		return fmt.Errorf("runtime: attach to %s: %w", id, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exitCh, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("runtime: attach to %s: %w", id, err)
	}
	tty := labels[labelTTY] == "true"
	if s.Stdin != nil && tty && labels[labelStdin] == "true" {
		fd, err := unix.Open(filepath.Join(r.ioDir(id), "stdin"), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("runtime: attach stdin of %s: %w", id, err)
		}
		unix.SetNonblock(fd, false)
		in := os.NewFile(uintptr(fd), "stdin")
		defer in.Close()
		// Ends when the client's stdin ends, or at its first read or write
		// after the session closed in.
		once := labels[labelStdinOnce] == "true"
		go func() {
			io.Copy(in, s.Stdin)
			in.Close()
			if once {
				task.CloseIO(ctx, containerd.WithStdinCloser)
			}
		}()
	}
	stopResize := r.forwardResize(ctx, s.Resize, func(ctx context.Context, w, h uint32) error { return task.Resize(ctx, w, h) })
	defer stopResize()

	exited := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-exitCh:
			close(exited)
		case <-ctx.Done():
		}
	}()
	defer wg.Wait()
	defer cancel()
	if p := labels[labelLogPath]; p != "" {
		stderr := s.Stderr
		if tty {
			stderr = nil
		}
		return followLog(ctx, p, s.Stdout, stderr, exited)
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
