package streaming

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)

// cri formats a CRI log record i seconds after t0.
func cri(i int, stream, tag, text string) string {
	return fmt.Sprintf("%s %s %s %s\n", t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), stream, tag, text)
}

func writeFile(t *testing.T, name string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, name string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "")); err != nil {
		t.Fatal(err)
	}
}

func getLogs(t *testing.T, srv *httptest.Server, path string, q url.Values) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLogs(t *testing.T) {
	dir := t.TempDir()
	rotated, current, prev := filepath.Join(dir, "0.log.1"), filepath.Join(dir, "0.log"), filepath.Join(dir, "prev.log")
	writeFile(t, rotated,
		cri(0, "stdout", "F", "one"),
		cri(1, "stderr", "F", "two"),
	)
	writeFile(t, current,
		cri(2, "stdout", "P", "thr"),
		cri(3, "stderr", "F", "four"), // interleaved with stdout's partial line
		cri(3, "stdout", "F", "ee"),
		"garbage line\n",
		cri(4, "stdout", "F", "five"),
	)
	writeFile(t, prev, cri(-100, "stdout", "F", "before restart"))
	pods := &fakePods{logs: map[string][]string{
		"ns/p/c":          {rotated, current},
		"ns/p/c/previous": {prev},
	}}
	srv := newServer(t, pods)
	ts := func(i int) string { return t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano) + " " }

	tests := []struct {
		name  string
		path  string
		query url.Values
		code  int
		want  string
	}{
		{name: "all", want: "one\ntwo\nfour\nthree\nfive\n"},
		{name: "timestamps", query: url.Values{"timestamps": {"true"}},
			want: ts(0) + "one\n" + ts(1) + "two\n" + ts(3) + "four\n" + ts(2) + "three\n" + ts(4) + "five\n"},
		{name: "tail across files", query: url.Values{"tailLines": {"4"}}, want: "two\nfour\nthree\nfive\n"},
		{name: "tail zero", query: url.Values{"tailLines": {"0"}}, want: ""},
		{name: "tail beyond", query: url.Values{"tailLines": {"100"}}, want: "one\ntwo\nfour\nthree\nfive\n"},
		{name: "sinceTime", query: url.Values{"sinceTime": {t0.Add(2 * time.Second).Format(time.RFC3339)}}, want: "four\nthree\nfive\n"},
		{name: "limitBytes", query: url.Values{"limitBytes": {"6"}}, want: "one\ntw"},
		{name: "limitBytes and tail", query: url.Values{"limitBytes": {"7"}, "tailLines": {"2"}}, want: "three\nf"},
		{name: "stderr only", query: url.Values{"stream": {"Stderr"}}, want: "two\nfour\n"},
		{name: "stdout only", query: url.Values{"stream": {"Stdout"}}, want: "one\nthree\nfive\n"},
		{name: "previous", query: url.Values{"previous": {"true"}}, want: "before restart\n"},
		{name: "previous does not follow", query: url.Values{"previous": {"true"}, "follow": {"true"}}, want: "before restart\n"},
		{name: "no previous", path: "/containerLogs/ns/p/other", query: url.Values{"previous": {"true"}}, code: 400, want: `previous terminated container \"other\" in pod \"p\" not found`},
		{name: "unknown container", path: "/containerLogs/ns/p/other", code: 404, want: "not found"},
		{name: "both since", query: url.Values{"sinceSeconds": {"1"}, "sinceTime": {t0.Format(time.RFC3339)}}, code: 400, want: "at most one of"},
		{name: "bad tail", query: url.Values{"tailLines": {"-1"}}, code: 400, want: "tailLines"},
		{name: "bad limit", query: url.Values{"limitBytes": {"0"}}, code: 400, want: "limitBytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/containerLogs/ns/p/c"
			}
			code, body := getLogs(t, srv, path, tc.query)
			if tc.code == 0 {
				tc.code = 200
			}
			if code != tc.code {
				t.Fatalf("status %d (%s), want %d", code, body, tc.code)
			}
			if tc.code == 200 && body != tc.want || tc.code != 200 && !strings.Contains(body, tc.want) {
				t.Fatalf("body %q, want %q", body, tc.want)
			}
		})
	}
}

func TestLogsSinceSeconds(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "0.log")
	now := time.Now()
	writeFile(t, name,
		fmt.Sprintf("%s stdout F old\n", now.Add(-time.Hour).Format(time.RFC3339Nano)),
		fmt.Sprintf("%s stdout F new\n", now.Add(-time.Second).Format(time.RFC3339Nano)),
	)
	srv := newServer(t, &fakePods{logs: map[string][]string{"ns/p/c": {name}}})
	if _, body := getLogs(t, srv, "/containerLogs/ns/p/c", url.Values{"sinceSeconds": {"60"}}); body != "new\n" {
		t.Fatalf("body %q, want the last minute only", body)
	}
}

// TestLogsFollowAcrossRotation follows a log while the runtime renames
// the file to .1 and starts a new one, then ends when the container stops.
func TestLogsFollowAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "0.log")
	writeFile(t, name, cri(0, "stdout", "F", "a"), cri(1, "stdout", "F", "b"))
	pods := &fakePods{logs: map[string][]string{"ns/p/c": {name}}}
	h := New(pods)
	h.pollInterval = 5 * time.Millisecond
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/containerLogs/ns/p/c?follow=true&tailLines=1&timestamps=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("line %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no line, want %q", want)
		}
	}
	ts := func(i int) string { return t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano) + " " }
	expect(ts(1) + "b") // tailLines=1 of what exists
	appendFile(t, name, cri(2, "stdout", "P", "c1"))
	appendFile(t, name, cri(2, "stdout", "F", "c2"))
	expect(ts(2) + "c1c2")
	// Rotation: the last line reaches the old file as it is renamed, and
	// the new file appears a moment later.
	appendFile(t, name, cri(3, "stdout", "F", "d"))
	if err := os.Rename(name, name+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, name+".1", cri(4, "stderr", "F", "e"))
	expect(ts(3) + "d")
	expect(ts(4) + "e")
	appendFile(t, name, cri(5, "stdout", "F", "f"))
	expect(ts(5) + "f")
	appendFile(t, name, cri(6, "stdout", "F", "g"))
	expect(ts(6) + "g")

	pods.stop("ns/p/c")
	select {
	case l, ok := <-lines:
		if ok {
			t.Fatalf("unexpected line %q after the container stopped", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the container stopped")
	}
}
