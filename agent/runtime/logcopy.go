package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/containerd/cio"
	"golang.org/x/sys/unix"
)

// Container output reaches its CRI log through the agent itself: the shim
// writes each stream into a FIFO under Dir/io/<id>, and the agent reads the
// FIFOs and writes the log (as containerd's CRI plugin does inside
// containerd). No process runs per container for its logs.
//
// While the agent is down the shim keeps its own read end of each FIFO open,
// so the container never gets EPIPE: its output waits in the FIFO (enlarged
// to fifoSize) and in the container's own pipe to the shim, and a container
// that writes more than that blocks on its next write until an agent runs
// again. Start reopens the FIFOs of every container before anything else,
// so a restarted agent drains that backlog at once. See docs/agent.md.

// fifoSize is the capacity asked for each output FIFO: the output a
// container may write while no agent runs before it blocks (plus the 64 KiB
// of its pipe to the shim). The kernel takes pages for it only as they are
// filled.
const fifoSize = 1 << 20

// copyBufSize is the size of the read buffers, taken from a pool only while
// a read has data, so an idle container costs no buffer.
const copyBufSize = 32 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// logCopies are the running copies of containers' output into their logs,
// by container id. The Runtime owns them: a copy ends when its container's
// output ends (the shim closed the FIFOs) or when the Runtime is closed.
type logCopies struct {
	mu     sync.Mutex
	byID   map[string]*logCopy
	closed bool
	wg     sync.WaitGroup
}

// logCopy is one container's copy.
type logCopy struct {
	files []*os.File // FIFO read ends, and the stdin FIFO held open
	done  chan struct{}
}

func (c *logCopy) close() {
	for _, f := range c.files {
		f.Close()
	}
}

// containerIO is the stdio of a task being created: FIFO paths for the
// shim and their read ends, opened before the task so the shim finds a
// reader.
type containerIO struct {
	cfg     cio.Config
	streams []stream
	hold    *os.File // stdin FIFO kept open for containers with stdin (not once)
}

type stream struct {
	name string // "stdout" or "stderr"
	f    *os.File
}

func (io *containerIO) close() {
	for _, s := range io.streams {
		s.f.Close()
	}
	if io.hold != nil {
		io.hold.Close()
	}
}

// shimIO is stdio the shim handles on its own: containerd's client copies
// nothing, the Runtime's log copies read the FIFOs.
type shimIO struct{ cfg cio.Config }

func (s *shimIO) Config() cio.Config { return s.cfg }
func (s *shimIO) Cancel()            {}
func (s *shimIO) Wait()              {}
func (s *shimIO) Close() error       { return nil }

// openContainerIO creates the FIFOs of a container's task. Without a log
// path and stdin the task gets no stdio at all.
func (r *Runtime) openContainerIO(id string, c ContainerConfig) (*containerIO, error) {
	ci := &containerIO{}
	if c.LogPath == "" && !c.Stdin {
		return ci, nil // no stdio, no terminal: containerd's NullIO
	}
	ci.cfg.Terminal = c.TTY
	dir := r.ioDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	names := []string{"stdout", "stderr"}
	if c.TTY {
		names = names[:1] // a terminal has one output
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		f, err := openFIFO(path)
		if err != nil {
			ci.close()
			return nil, err
		}
		ci.streams = append(ci.streams, stream{name: name, f: f})
		if name == "stdout" {
			ci.cfg.Stdout = path
		} else {
			ci.cfg.Stderr = path
		}
	}
	if c.Stdin && c.TTY {
		fifo := filepath.Join(dir, "stdin")
		if err := unix.Mkfifo(fifo, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
			ci.close()
			return nil, fmt.Errorf("runtime: stdin fifo: %w", err)
		}
		ci.cfg.Stdin = fifo
		if !c.StdinOnce {
			// Held open so attach sessions may come and go without
			// closing the container's stdin. O_RDWR never blocks on a FIFO.
			h, err := os.OpenFile(fifo, os.O_RDWR, 0)
			if err != nil {
				ci.close()
				return nil, fmt.Errorf("runtime: stdin fifo: %w", err)
			}
			ci.hold = h
		}
	}
	return ci, nil
}

// openFIFO makes the FIFO at path if needed and opens its read end without
// waiting for a writer; the file is served by Go's poller.
func openFIFO(path string) (*os.File, error) {
	if err := unix.Mkfifo(path, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("runtime: output fifo: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("runtime: output fifo: %w", err)
	}
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			// Best effort: a smaller FIFO only shortens how long a container
			// may write while no agent runs.
			unix.FcntlInt(fd, unix.F_SETPIPE_SZ, fifoSize)
		})
	}
	return f, nil
}

// start copies a container's output streams into its log at logPath ("":
// drain and discard). It replaces a copy of the same container still
// running.
func (l *logCopies) start(id, logPath string, io *containerIO) {
	if len(io.streams) == 0 && io.hold == nil {
		return
	}
	l.stop(id)
	files := make([]*os.File, 0, len(io.streams)+1)
	for _, s := range io.streams {
		files = append(files, s.f)
	}
	if io.hold != nil {
		files = append(files, io.hold)
	}
	c := &logCopy{files: files, done: make(chan struct{})}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		c.close()
		return
	}
	if l.byID == nil {
		l.byID = map[string]*logCopy{}
	}
	l.byID[id] = c
	l.wg.Add(1)
	l.mu.Unlock()

	var w *criWriter
	if logPath != "" {
		var err error
		if w, err = openCRIWriter(logPath, logMaxSize, logMaxFiles); err != nil {
			// Drained all the same, so the container never blocks.
			fmt.Fprintf(os.Stderr, "runtime: log of container %s: %v\n", id, err)
		}
	}
	var wg sync.WaitGroup
	for _, s := range io.streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			copyCRI(s.f, s.name, w)
		}()
	}
	go func() {
		defer l.wg.Done()
		wg.Wait()
		c.close()
		if w != nil {
			w.Close()
		}
		l.mu.Lock()
		if l.byID[id] == c {
			delete(l.byID, id)
		}
		l.mu.Unlock()
		close(c.done)
	}()
}

// stop ends the copy of one container, if any, and waits for it.
func (l *logCopies) stop(id string) {
	l.mu.Lock()
	c := l.byID[id]
	l.mu.Unlock()
	if c != nil {
		c.close()
		<-c.done
	}
}

// closeAll ends every copy and waits for them. Output not read yet stays
// in the FIFOs for the next agent.
func (l *logCopies) closeAll() {
	l.mu.Lock()
	l.closed = true
	for _, c := range l.byID {
		c.close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// maxLogLine is the longest line written whole; longer ones are split into
// partial ("P") entries, as the kubelet does at 16 KiB.
const maxLogLine = 16 << 10

// copyCRI reads one stream to its end (or until f is closed) and writes it
// line by line. Without a writer it drains the stream so the container
// never blocks.
func copyCRI(f *os.File, stream string, w *criWriter) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	var pending []byte // the start of a line not ended yet
	for {
		var (
			buf  *[]byte
			n    int
			rerr error
		)
		err := rc.Read(func(fd uintptr) bool {
			buf = copyBufs.Get().(*[]byte)
			for {
				n, rerr = unix.Read(int(fd), *buf)
				if rerr != unix.EINTR {
					break
				}
			}
			if rerr == unix.EAGAIN {
				copyBufs.Put(buf)
				buf = nil
				return false // wait until readable
			}
			return true
		})
		if n > 0 && buf != nil {
			pending = writeLines(w, stream, time.Now(), pending, (*buf)[:n])
		}
		if buf != nil {
			copyBufs.Put(buf)
		}
		if err != nil {
			// Closed by the agent: the rest of the line goes out as a
			// partial entry, the next agent writes what follows.
			if len(pending) > 0 && w != nil {
				w.WriteEntry(time.Now(), stream, true, pending)
			}
			return
		}
		if n == 0 || rerr != nil {
			// The end of the output: its last line, without newline.
			if len(pending) > 0 && w != nil {
				w.WriteEntry(time.Now(), stream, false, pending)
			}
			return
		}
	}
}

// writeLines writes the complete lines of pending+data and returns what is
// left of an unfinished line, writing it out in partial entries once it
// reaches maxLogLine. The returned slice never aliases data.
func writeLines(w *criWriter, stream string, now time.Time, pending, data []byte) []byte {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			pending = append(pending, data...)
			data = nil
		} else {
			line := data[:i]
			data = data[i+1:]
			if len(pending) > 0 {
				pending = append(pending, line...)
				line = pending
			}
			for len(line) > maxLogLine {
				if w != nil {
					w.WriteEntry(now, stream, true, line[:maxLogLine])
				}
				line = line[maxLogLine:]
			}
			if w != nil {
				w.WriteEntry(now, stream, false, line)
			}
			pending = pending[:0]
			continue
		}
		for len(pending) >= maxLogLine {
			if w != nil {
				w.WriteEntry(now, stream, true, pending[:maxLogLine])
			}
			pending = append(pending[:0], pending[maxLogLine:]...)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	return pending
}

// reattachLogs reopens the output FIFOs of every skiff container that has
// them, after an agent restart: what the containers wrote meanwhile is
// drained into their logs at once, and their output flows again. A FIFO
// whose shim is gone reads as ended, and its copy stops at once.
func (r *Runtime) reattachLogs(ctrs []containerLabels) {
	for _, c := range ctrs {
		dir := r.ioDir(c.id)
		io := &containerIO{}
		for _, name := range []string{"stdout", "stderr"} {
			path := filepath.Join(dir, name)
			if _, err := os.Stat(path); err != nil {
				continue
			}
			f, err := openFIFO(path)
			if err != nil {
				fmt.Fprintf(os.Stderr, "runtime: reopen output of container %s: %v\n", c.id, err)
				continue
			}
			io.streams = append(io.streams, stream{name: name, f: f})
		}
		if len(io.streams) == 0 {
			continue
		}
		l := c.labels
		if l[labelTTY] == "true" && l[labelStdin] == "true" && l[labelStdinOnce] != "true" {
			if h, err := os.OpenFile(filepath.Join(dir, "stdin"), os.O_RDWR, 0); err == nil {
				io.hold = h
			}
		}
		r.logs.start(c.id, l[labelLogPath], io)
	}
}

// containerLabels is a container's id and labels, as a listing gives them.
type containerLabels struct {
	id     string
	labels map[string]string
}
