package streaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

const (
	// streamCreationTimeout bounds how long a SPDY client may take to
	// open the streams it announced.
	streamCreationTimeout = remotecommand.DefaultStreamCreationTimeout
	// streamIdleTimeout closes a connection nobody used for this long, as
	// the kubelet's default does.
	streamIdleTimeout = 4 * time.Hour

	v4Base64Protocol = "v4.base64.channel.k8s.io"
)

// spdyExecProtocols are the remotecommand versions served over SPDY, best
// first.
var spdyExecProtocols = []string{
	remotecommand.StreamProtocolV4Name, remotecommand.StreamProtocolV3Name,
	remotecommand.StreamProtocolV2Name, remotecommand.StreamProtocolV1Name,
}

// execOptions are the exec and attach query parameters.
type execOptions struct {
	stdin, stdout, stderr, tty bool
	command                    []string
}

func parseExecOptions(r *http.Request, exec bool) (execOptions, error) {
	q := r.URL.Query()
	var o execOptions
	for name, dst := range map[string]*bool{"stdin": &o.stdin, "stdout": &o.stdout, "stderr": &o.stderr, "tty": &o.tty} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("invalid %s %q", name, v)
			}
			*dst = b
		}
	}
	o.command = q["command"]
	if exec && len(o.command) == 0 {
		return o, errors.New("you must specify at least one command for the container")
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, errors.New("you must specify at least 1 of stdin, stdout, stderr")
	}
	if o.tty && o.stderr {
		o.stderr = false // a terminal merges stderr into stdout
	}
	return o, nil
}

func (h *Handler) serveExec(w http.ResponseWriter, r *http.Request) {
	h.serveRemoteCommand(w, r, true)
}

func (h *Handler) serveAttach(w http.ResponseWriter, r *http.Request) {
	h.serveRemoteCommand(w, r, false)
}

func (h *Handler) serveRemoteCommand(w http.ResponseWriter, r *http.Request, exec bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeStatus(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed")
		return
	}
	ns, pod, ctr := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	o, err := parseExecOptions(r, exec)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, err.Error())
		return
	}
	var sc *streamConn
	if wsstream.IsWebSocketRequest(r) {
		sc, err = openWebSocket(w, r, o)
	} else {
		sc, err = openSPDY(w, r, o)
	}
	if err != nil {
		return // the upgrade already answered the client
	}
	defer sc.close()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if sc.done != nil {
		go func() {
			select {
			case <-sc.done:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	s := Streams{TTY: o.tty}
	if sc.stdin != nil {
		s.Stdin = sc.stdin
	}
	if sc.stdout != nil {
		s.Stdout = sc.stdout
	}
	if sc.stderr != nil {
		s.Stderr = sc.stderr
	}
	if o.tty {
		s.Resize = decodeResizes(sc.resize)
	}
	var st *metav1.Status
	if exec {
		code, err := h.pods.Exec(ctx, ns, pod, ctr, o.command, s)
		st = execStatus(code, err)
	} else {
		st = execStatus(0, h.pods.Attach(ctx, ns, pod, ctr, s))
	}
	_ = sc.writeStatus(st)
}

// execStatus is the v4 error-stream message for an exec's outcome.
func execStatus(code int, err error) *metav1.Status {
	switch {
	case err != nil:
		return &metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError,
			Message: fmt.Sprintf("error executing command in container: %v", err),
		}
	case code != 0:
		return &metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  remotecommand.NonZeroExitCodeReason,
			Message: fmt.Sprintf("command terminated with non-zero exit code: exit status %d", code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
				Type: remotecommand.ExitCodeCauseType, Message: strconv.Itoa(code),
			}}},
		}
	}
	return &metav1.Status{Status: metav1.StatusSuccess}
}

// decodeResizes turns a stream of JSON terminal sizes into a channel,
// closed when the stream ends.
func decodeResizes(r io.Reader) <-chan TermSize {
	ch := make(chan TermSize, 1)
	if r == nil {
		close(ch)
		return ch
	}
	go func() {
		defer close(ch)
		dec := json.NewDecoder(r)
		for {
			var size TermSize
			if err := dec.Decode(&size); err != nil {
				return
			}
			// Only the newest size matters: replace an unread one.
			select {
			case ch <- size:
			default:
				select {
				case <-ch:
				default:
				}
				ch <- size
			}
		}
	}()
	return ch
}

// streamConn is an upgraded exec or attach connection, whatever its
// protocol.
type streamConn struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	resize         io.Reader
	writeStatus    func(*metav1.Status) error
	close          func()
	// done, when set, closes when the client connection is gone.
	done <-chan bool
}

// v4 and later protocols send a metav1.Status on the error stream; older
// ones send text, and nothing on success.
func statusWriter(w io.Writer, structured bool) func(*metav1.Status) error {
	return func(st *metav1.Status) error {
		if structured {
			b, err := json.Marshal(st)
			if err != nil {
				return err
			}
			_, err = w.Write(b)
			return err
		}
		if st.Status == metav1.StatusSuccess {
			return nil
		}
		_, err := io.WriteString(w, st.Message)
		return err
	}
}

// openWebSocket upgrades to the channel.k8s.io family: channels 0-4 are
// stdin, stdout, stderr, error and resize.
func openWebSocket(w http.ResponseWriter, r *http.Request, o execOptions) (*streamConn, error) {
	pick := func(want bool, t wsstream.ChannelType) wsstream.ChannelType {
		if want {
			return t
		}
		return wsstream.IgnoreChannel
	}
	channels := []wsstream.ChannelType{
		pick(o.stdin, wsstream.ReadChannel),
		pick(o.stdout, wsstream.WriteChannel),
		pick(o.stderr, wsstream.WriteChannel),
		wsstream.WriteChannel,
		pick(o.tty, wsstream.ReadChannel),
	}
	protocols := wsstream.NewDefaultChannelProtocols(channels)
	protocols[remotecommand.StreamProtocolV4Name] = wsstream.ChannelProtocolConfig{Binary: true, Channels: channels}
	protocols[v4Base64Protocol] = wsstream.ChannelProtocolConfig{Binary: false, Channels: channels}
	protocols[remotecommand.StreamProtocolV5Name] = wsstream.ChannelProtocolConfig{Binary: true, Channels: channels}
	conn := wsstream.NewConn(protocols)
	conn.SetIdleTimeout(streamIdleTimeout)
	proto, ch, err := conn.Open(w, r)
	if err != nil {
		return nil, err
	}
	sc := &streamConn{
		writeStatus: statusWriter(ch[3], proto == remotecommand.StreamProtocolV4Name || proto == v4Base64Protocol || proto == remotecommand.StreamProtocolV5Name),
		close:       func() { conn.Close() },
	}
	if o.stdin {
		sc.stdin = ch[0]
	}
	if o.stdout {
		sc.stdout = ch[1]
	}
	if o.stderr {
		sc.stderr = ch[2]
	}
	if o.tty {
		sc.resize = ch[4]
	}
	// An empty message on the first writable channel tells the client
	// the streams are ready.
	switch {
	case o.stdout:
		ch[1].Write(nil)
	case o.stderr:
		ch[2].Write(nil)
	default:
		ch[3].Write(nil)
	}
	return sc, nil
}

// openSPDY upgrades to SPDY/3.1 and waits for the streams the client
// announces by their streamType header.
func openSPDY(w http.ResponseWriter, r *http.Request, o execOptions) (*streamConn, error) {
	proto, err := httpstream.Handshake(r, w, spdyExecProtocols)
	if err != nil {
		return nil, err
	}
	streams := make(chan httpstream.Stream)
	stop := make(chan struct{})
	defer close(stop)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, replySent <-chan struct{}) error {
		select {
		case streams <- s:
		case <-stop:
			s.Reset()
		}
		return nil
	})
	if conn == nil {
		return nil, errors.New("spdy upgrade failed")
	}
	conn.SetIdleTimeout(streamIdleTimeout)

	want := 1 // the error stream
	for _, b := range []bool{o.stdin, o.stdout, o.stderr, o.tty && proto != remotecommand.StreamProtocolV1Name && proto != remotecommand.StreamProtocolV2Name} {
		if b {
			want++
		}
	}
	sc := &streamConn{done: conn.CloseChan()}
	var errStream httpstream.Stream
	timeout := time.NewTimer(streamCreationTimeout)
	defer timeout.Stop()
	for got := 0; got < want; {
		select {
		case s := <-streams:
			got++
			switch s.Headers().Get(corev1.StreamType) {
			case corev1.StreamTypeError:
				errStream = s
			case corev1.StreamTypeStdin:
				sc.stdin = s
			case corev1.StreamTypeStdout:
				sc.stdout = s
			case corev1.StreamTypeStderr:
				sc.stderr = s
			case corev1.StreamTypeResize:
				sc.resize = s
			default:
				got--
				s.Reset()
			}
		case <-timeout.C:
			conn.Close()
			return nil, errors.New("timed out waiting for client streams")
		case <-conn.CloseChan():
			return nil, errors.New("connection closed before the streams were created")
		}
	}
	if errStream == nil {
		conn.Close()
		return nil, errors.New("the client did not create an error stream")
	}
	write := statusWriter(errStream, proto == remotecommand.StreamProtocolV4Name)
	sc.writeStatus = func(st *metav1.Status) error {
		err := write(st)
		errStream.Close()
		return err
	}
	sc.close = func() {
		if c, ok := sc.stdout.(io.Closer); ok {
			c.Close()
		}
		if c, ok := sc.stderr.(io.Closer); ok {
			c.Close()
		}
		// Let the client read the rest of the output and hang up first:
		// closing at once can reset streams whose last frames it has not
		// read yet.
		select {
		case <-conn.CloseChan():
		case <-time.After(time.Second):
		}
		conn.Close()
	}
	return sc, nil
}
