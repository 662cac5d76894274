package streaming

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// logOptions are the pods/log query parameters the agent honours.
type logOptions struct {
	follow, previous, timestamps bool
	tail                         int64 // -1: all lines
	since                        time.Time
	limitBytes                   int64 // 0: no limit
	stream                       string
}

func parseLogOptions(r *http.Request, now time.Time) (logOptions, error) {
	q := r.URL.Query()
	o := logOptions{tail: -1}
	var err error
	for name, dst := range map[string]*bool{"follow": &o.follow, "previous": &o.previous, "timestamps": &o.timestamps} {
		if v := q.Get(name); v != "" {
			if *dst, err = strconv.ParseBool(v); err != nil {
				return o, fmt.Errorf("invalid %s %q", name, v)
			}
		}
	}
	if v := q.Get("tailLines"); v != "" {
		if o.tail, err = strconv.ParseInt(v, 10, 64); err != nil || o.tail < 0 {
			return o, fmt.Errorf("tailLines: must be greater than or equal to 0")
		}
	}
	if v := q.Get("limitBytes"); v != "" {
		if o.limitBytes, err = strconv.ParseInt(v, 10, 64); err != nil || o.limitBytes < 1 {
			return o, fmt.Errorf("limitBytes: must be greater than 0")
		}
	}
	ss, st := q.Get("sinceSeconds"), q.Get("sinceTime")
	switch {
	case ss != "" && st != "":
		return o, fmt.Errorf("at most one of `sinceTime` or `sinceSeconds` may be specified")
	case ss != "":
		n, err := strconv.ParseInt(ss, 10, 64)
		if err != nil || n < 1 {
			return o, fmt.Errorf("sinceSeconds: must be greater than 0")
		}
		o.since = now.Add(-time.Duration(n) * time.Second)
	case st != "":
		if o.since, err = time.Parse(time.RFC3339, st); err != nil {
			return o, fmt.Errorf("invalid sinceTime %q", st)
		}
	}
	switch v := q.Get("stream"); v {
	case "", "All":
	case "Stdout":
		o.stream = "stdout"
	case "Stderr":
		o.stream = "stderr"
	default:
		return o, fmt.Errorf("invalid stream %q: must be All, Stdout or Stderr", v)
	}
	if o.previous {
		o.follow = false // a terminated instance's log does not grow
	}
	if o.stream != "" && o.tail >= 0 {
		return o, fmt.Errorf("`tailLines` and specific `stream` are mutually exclusive for now")
	}
	return o, nil
}

func (h *Handler) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, ctr := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	o, err := parseLogOptions(r, time.Now())
	if err != nil {
		writeStatus(w, http.StatusBadRequest, err.Error())
		return
	}
	files, err := h.pods.LogFiles(ns, pod, ctr, o.previous)
	if err != nil {
		writeError(w, err)
		return
	}
	var running func() bool
	if cr, ok := h.pods.(ContainerRunning); ok && !o.previous {
		running = func() bool { return cr.ContainerRunning(ns, pod, ctr) }
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	lw := &logWriter{w: bufio.NewWriterSize(w, 32<<10), limit: o.limitBytes}
	if f, ok := w.(http.Flusher); ok {
		lw.flush = f.Flush
	}
	err = h.copyLogs(r.Context(), files, o, lw, running)
	if err := lw.w.Flush(); err == nil && lw.flush != nil {
		lw.flush()
	}
	_ = err // the status line is sent; a late error can only end the body
}

// errLimit ends a copy at limitBytes.
var errLimit = errors.New("limitBytes reached")

// logWriter writes log entries up to a byte limit.
type logWriter struct {
	w       *bufio.Writer
	flush   func()
	limit   int64
	written int64
}

func (lw *logWriter) write(b []byte) error {
	if lw.limit > 0 && lw.written+int64(len(b)) > lw.limit {
		b = b[:lw.limit-lw.written]
		lw.written += int64(len(b))
		lw.w.Write(b)
		return errLimit
	}
	lw.written += int64(len(b))
	_, err := lw.w.Write(b)
	return err
}

func (lw *logWriter) sync() error {
	if err := lw.w.Flush(); err != nil {
		return err
	}
	if lw.flush != nil {
		lw.flush()
	}
	return nil
}

// entry is one log line: CRI records joined up to the one tagged F.
type entry struct {
	ts     time.Time
	stream string
	text   []byte
}

// assembler joins partial (P) records per stream and filters entries by
// time and stream.
type assembler struct {
	o       logOptions
	pending map[string]*entry
	emit    func(*entry) error
}

// record parses one CRI log line ("<RFC3339Nano> <stream> <tags> <text>")
// and emits the entry it completes.
func (a *assembler) record(line []byte) error {
	line = bytes.TrimSuffix(line, []byte("\n"))
	tsb, rest, ok1 := bytes.Cut(line, []byte(" "))
	stream, rest, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 {
		return nil // not a CRI record; skip it as the kubelet does
	}
	ts, err := time.Parse(time.RFC3339Nano, string(tsb))
	if err != nil {
		return nil
	}
	partial := false
	if tags, text, ok := bytes.Cut(rest, []byte(" ")); ok || len(rest) == 1 {
		t, _, _ := bytes.Cut(tags, []byte(":"))
		if len(t) == 1 && (t[0] == 'P' || t[0] == 'F') {
			partial = t[0] == 'P'
			rest = text
		}
	}
	s := string(stream)
	e := a.pending[s]
	if e == nil {
		e = &entry{ts: ts, stream: s}
	}
	e.text = append(e.text, rest...)
	if partial {
		if a.pending == nil {
			a.pending = map[string]*entry{}
		}
		a.pending[s] = e
		return nil
	}
	delete(a.pending, s)
	e.text = append(e.text, '\n')
	if (a.o.stream != "" && a.o.stream != s) || (!a.o.since.IsZero() && e.ts.Before(a.o.since)) {
		return nil
	}
	return a.emit(e)
}

func (o logOptions) format(e *entry) []byte {
	if !o.timestamps {
		return e.text
	}
	b := make([]byte, 0, len(e.text)+36)
	b = e.ts.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	return append(b, e.text...)
}

// copyLogs writes the entries of files (oldest first) and, when following,
// what is appended to the last one, across its rotation.
func (h *Handler) copyLogs(ctx context.Context, files []string, o logOptions, lw *logWriter, running func() bool) error {
	var ring [][]byte // the last o.tail entries while reading what exists
	a := &assembler{o: o, emit: func(e *entry) error {
		if o.tail < 0 {
			return lw.write(o.format(e))
		}
		if o.tail == 0 {
			return nil
		}
		if int64(len(ring)) == o.tail {
			ring = ring[1:]
		}
		ring = append(ring, o.format(e))
		return nil
	}}
	var cur *followedFile
	for i, name := range files {
		f, err := openFollowed(name)
		if err != nil {
			if os.IsNotExist(err) && i < len(files)-1 {
				continue // rotated away meanwhile
			}
			if os.IsNotExist(err) && o.follow {
				cur = &followedFile{name: name}
				continue
			}
			if os.IsNotExist(err) {
				continue
			}
			return err
		}
		if _, err := f.readAll(a.record); err != nil {
			f.close()
			return err
		}
		if i == len(files)-1 && o.follow {
			cur = f
		} else {
			f.close()
		}
	}
	for _, b := range ring {
		if err := lw.write(b); err != nil {
			return err
		}
	}
	a.o.tail, a.emit = -1, func(e *entry) error { return lw.write(o.format(e)) }
	if !o.follow || cur == nil {
		return nil
	}
	defer cur.close()
	t := time.NewTicker(h.pollInterval)
	defer t.Stop()
	idle := 0
	for {
		if err := lw.sync(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		n, err := cur.follow(a.record)
		if err != nil {
			return err
		}
		if n > 0 {
			idle = 0
			continue
		}
		// Ask whether the container still runs about once a second while
		// the log is quiet; one more read after a "no" takes what the
		// container wrote before it exited.
		if idle++; running != nil && idle%5 == 0 && !running() {
			_, err := cur.follow(a.record)
			return err
		}
	}
}

// followedFile reads a log file and, once at its end, what is appended
// to it, reopening the name when the runtime rotated it.
type followedFile struct {
	name string
	f    *os.File
	info os.FileInfo
	r    *bufio.Reader
	part []byte // a line read without its newline yet
}

func openFollowed(name string) (*followedFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &followedFile{name: name, f: f, info: info, r: bufio.NewReaderSize(f, 64<<10)}, nil
}

func (ff *followedFile) close() {
	if ff.f != nil {
		ff.f.Close()
	}
}

// readAll passes every complete line up to the end of the file to fn and
// returns how many it passed. An unterminated last line is kept until its
// newline arrives.
func (ff *followedFile) readAll(fn func([]byte) error) (int, error) {
	if ff.f == nil {
		return 0, nil
	}
	n := 0
	for {
		line, err := ff.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			ff.part = append(ff.part, line...)
			continue
		}
		if err == io.EOF {
			ff.part = append(ff.part, line...)
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if len(ff.part) > 0 {
			line = append(ff.part, line...)
			ff.part = ff.part[:0]
		}
		n++
		if err := fn(line); err != nil {
			return n, err
		}
	}
}

// follow reads what was appended; when the name now points to another
// file (rotation) it finishes the old one and continues with the new.
func (ff *followedFile) follow(fn func([]byte) error) (int, error) {
	n, err := ff.readAll(fn)
	if err != nil {
		return n, err
	}
	info, err := os.Stat(ff.name)
	if err != nil {
		return n, nil // rotated, the new file is not there yet
	}
	if ff.f != nil && os.SameFile(info, ff.info) {
		if info.Size() < ff.offset() { // truncated in place
			ff.f.Seek(0, io.SeekStart)
			ff.r.Reset(ff.f)
			ff.part = ff.part[:0]
		}
		return n, nil
	}
	// Lines written to the old file just before the rename come first.
	m, err := ff.readAll(fn)
	n += m
	if err != nil {
		return n, err
	}
	ff.close()
	nf, err := openFollowed(ff.name)
	if err != nil {
		ff.f = nil
		return n, nil
	}
	*ff = *nf
	m, err = ff.readAll(fn)
	return n + m, err
}

func (ff *followedFile) offset() int64 {
	off, err := ff.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0
	}
	return off - int64(ff.r.Buffered())
}
