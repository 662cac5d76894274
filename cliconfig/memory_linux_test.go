package cliconfig

import (
	"bytes"
	"os"
	"strconv"
	"testing"
)

func TestParseMapping(t *testing.T) {
	cases := []struct {
		line string
		want mapping
		ok   bool
	}{
		{"00403000-01649000 r-xp 00003000 fe:00 9994323    /usr/local/bin/skiff",
			mapping{start: 0x403000, end: 0x1649000, major: 0xfe, minor: 0, inode: 9994323}, true},
		{"0291f000-029e5000 rw-p 0251f000 fe:01 9994323    /usr/local/bin/skiff (deleted)",
			mapping{start: 0x291f000, end: 0x29e5000, writable: true, major: 0xfe, minor: 1, inode: 9994323}, true},
		{"7f5ea030-7f5ea06f rw-p 00000000 00:00 0 ",
			mapping{start: 0x7f5ea030, end: 0x7f5ea06f, writable: true}, true},
		{"garbage", mapping{}, false},
		{"2000-1000 r--p 0 fe:00 1 /x", mapping{}, false},
		{"1000-2000 r--p 0 fe00 1 /x", mapping{}, false},
	}
	for _, c := range cases {
		got, ok := parseMapping([]byte(c.line))
		if ok != c.ok || got != c.want {
			t.Errorf("parseMapping(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

// TestReleaseStartupMemory: after the call, fewer of the test binary's
// pages are resident than before (RssFile in /proc/self/status), and the
// bytes it reports advised are those of the binary's read-only mappings.
func TestReleaseStartupMemory(t *testing.T) {
	before := rssFileKiB(t)
	advised, err := ReleaseStartupMemory()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	t.Logf("advised %d KiB; RssFile %d → %d KiB", advised>>10, before, after)
	if advised < 1<<20 {
		t.Fatalf("advised %d bytes of the binary, want its read-only mappings (MiBs)", advised)
	}
	if after >= before {
		t.Fatalf("RssFile %d KiB after, %d before: no page was handed back", after, before)
	}
}

func rssFileKiB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(l, []byte("RssFile:")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
