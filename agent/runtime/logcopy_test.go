package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The FIFO's size is what a container may write while no agent runs.
func TestOpenFIFOSize(t *testing.T) {
	f, err := openFIFO(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n < fifoSize {
		t.Errorf("FIFO holds %d bytes, want %d", n, fifoSize)
	}
}

// Output read in pieces comes out as whole lines, a long line as partial
// entries, and a line cut by the agent's stop as a partial entry.
func TestWriteLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	w, err := openCRIWriter(path, 1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	var pending []byte
	for _, piece := range []string{"he", "llo\nwor", "ld\n", strings.Repeat("z", maxLogLine+3), "\n"} {
		pending = writeLines(w, "stdout", time.Time{}, pending, []byte(piece))
	}
	w.Close()
	b, _ := os.ReadFile(path)
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		_, _, partial, text, err := ParseCRILine([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		tag := "F"
		if partial {
			tag = "P"
		}
		got = append(got, tag+string(text[:min(len(text), 5)]))
	}
	want := []string{"Fhello", "Fworld", "Pzzzzz", "Fzzz"}
	if strings.Join(got, ",") != strings.Join(want, ",") || len(pending) != 0 {
		t.Errorf("entries %v (pending %q), want %v", got, pending, want)
	}
}
