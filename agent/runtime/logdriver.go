package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// LogDriverName is the name under which containerd shims ran the skiff
// binary as a container's log writer, before the agent copied container
// output itself (logcopy.go). Such writers of containers started by an
// earlier agent keep running until their container ends; no new ones are
// started.
const LogDriverName = "skiff-cri-log"

// IsLogDriver reports whether this process was started as a log writer by
// a shim of a container an earlier agent created. main calls it first:
//
//	if runtime.IsLogDriver() { os.Exit(runtime.LogDriverMain()) }
//
// It can go once no node runs containers of such an agent.
func IsLogDriver() bool {
	return filepath.Base(os.Args[0]) == LogDriverName
}

// LogDriverMain runs the log writer: the shim passes the container's stdout
// and stderr pipes as fds 3 and 4 and a readiness pipe as fd 5, and the
// URI's query as "key value" argument pairs. It returns the exit code.
func LogDriverMain() int {
	args := map[string]string{}
	for i := 1; i+1 < len(os.Args); i += 2 {
		args[os.Args[i]] = os.Args[i+1]
	}
	stdout := os.NewFile(3, "stdout")
	stderr := os.NewFile(4, "stderr")
	ready := os.NewFile(5, "ready")

	if fifo := args["stdin-hold"]; fifo != "" {
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			defer f.Close()
		}
	}
	var w *criWriter
	if p := args["log-path"]; p != "" {
		maxSize, _ := strconv.ParseInt(args["max-size"], 10, 64)
		maxFiles, _ := strconv.Atoi(args["max-files"])
		var err error
		w, err = openCRIWriter(p, maxSize, maxFiles)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", LogDriverName, err)
		}
	}
	ready.Close()

	var wg sync.WaitGroup
	for _, s := range []struct {
		f    *os.File
		name string
	}{{stdout, "stdout"}, {stderr, "stderr"}} {
		if s.f == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			copyCRI(s.f, s.name, w)
		}()
	}
	wg.Wait()
	if w != nil {
		w.Close()
	}
	return 0
}

// criWriter writes CRI log entries, "<RFC3339Nano> <stream> <F|P> <text>\n",
// to a file rotated by size into path.1 (newest) … path.<maxFiles-1>.
type criWriter struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
	buf      bytes.Buffer
}

func openCRIWriter(path string, maxSize int64, maxFiles int) (*criWriter, error) {
	if maxSize <= 0 {
		maxSize = logMaxSize
	}
	if maxFiles < 1 {
		maxFiles = logMaxFiles
	}
	w := &criWriter{path: path, maxSize: maxSize, maxFiles: maxFiles}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *criWriter) open() error {
	if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// WriteEntry appends one entry. Each entry is one write, so a reader never
// sees half of it.
func (w *criWriter) WriteEntry(t time.Time, stream string, partial bool, text []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return errors.New("log closed")
	}
	w.buf.Reset()
	w.buf.WriteString(t.UTC().Format(time.RFC3339Nano))
	w.buf.WriteByte(' ')
	w.buf.WriteString(stream)
	if partial {
		w.buf.WriteString(" P ")
	} else {
		w.buf.WriteString(" F ")
	}
	w.buf.Write(text)
	w.buf.WriteByte('\n')
	if w.size > 0 && w.size+int64(w.buf.Len()) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(w.buf.Bytes())
	w.size += int64(n)
	return err
}

func (w *criWriter) rotate() error {
	w.f.Close()
	w.f = nil
	if w.maxFiles > 1 {
		os.Remove(w.path + "." + strconv.Itoa(w.maxFiles-1))
		for i := w.maxFiles - 2; i >= 1; i-- {
			os.Rename(w.path+"."+strconv.Itoa(i), w.path+"."+strconv.Itoa(i+1))
		}
		os.Rename(w.path, w.path+".1")
	} else {
		os.Remove(w.path)
	}
	return w.open()
}

func (w *criWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// ParseCRILine splits a CRI log entry (without its newline) into its parts.
func ParseCRILine(line []byte) (t time.Time, stream string, partial bool, text []byte, err error) {
	parts := bytes.SplitN(line, []byte{' '}, 4)
	if len(parts) < 3 {
		return t, "", false, nil, fmt.Errorf("malformed CRI log line %q", line)
	}
	t, err = time.Parse(time.RFC3339Nano, string(parts[0]))
	if err != nil {
		return t, "", false, nil, fmt.Errorf("malformed CRI log time: %w", err)
	}
	if len(parts) == 4 {
		text = parts[3]
	}
	return t, string(parts[1]), string(parts[2]) == "P", text, nil
}

// followLog copies entries appended to a CRI log from its current end to
// stdout and stderr (stderr entries to stdout when stderr is nil), following
// rotation, until done is closed and the file is drained, or ctx ends.
func followLog(ctx context.Context, path string, stdout, stderr io.Writer, done <-chan struct{}) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return err
	}
	br := bufio.NewReader(f)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	// After done, a few quiet ticks let the driver write the last lines.
	quiet := -1
	var pending []byte
	for {
		chunk, err := br.ReadBytes('\n')
		pending = append(pending, chunk...)
		if err == nil {
			line := pending[:len(pending)-1]
			pending = nil
			if _, stream, partial, text, perr := ParseCRILine(line); perr == nil {
				out := stdout
				if stream == "stderr" && stderr != nil {
					out = stderr
				}
				if out != nil {
					out.Write(text)
					if !partial {
						out.Write([]byte{'\n'})
					}
				}
			}
			if quiet > 0 {
				quiet = 0
			}
			continue
		}
		// At the end of the file: rotated away?
		if st, err1 := os.Stat(path); err1 == nil {
			if cur, err2 := f.Stat(); err2 == nil && !os.SameFile(st, cur) {
				nf, err := os.Open(path)
				if err == nil {
					f.Close()
					f = nf
					br.Reset(f)
					continue
				}
			}
		}
		if quiet >= 3 {
			return nil
		}
		if quiet < 0 {
			select {
			case <-done:
				quiet = 0
			default:
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if quiet >= 0 {
				quiet++
			}
		}
	}
}
