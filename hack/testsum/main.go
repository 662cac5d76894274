// Command testsum reads `go test -json` on stdin, prints the usual go test
// output, and ends with one line counting every test that ran:
// "N passed, N failed, N skipped". It exits non-zero if any test or
// package failed, and under CI (CI=true, as .ci/run sets it) also if any
// test skipped: CI installs every tool the tests need, so a skip there
// means a test did not run, and a green run must mean every test ran.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// summary counts one `go test -json` stream.
type summary struct {
	passed, failed, skipped, pkgFailed int
	// skips names the skipped tests, "package.Test".
	skips []string
}

// read copies the tests' output to out and counts their results.
func read(in io.Reader, out io.Writer) (summary, error) {
	var s summary
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not JSON (a build error printed by go itself): pass it on.
			fmt.Fprintln(out, sc.Text())
			continue
		}
		switch e.Action {
		case "output":
			fmt.Fprint(out, e.Output)
		case "pass":
			if e.Test != "" {
				s.passed++
			}
		case "fail":
			if e.Test != "" {
				s.failed++
			} else {
				s.pkgFailed++
			}
		case "skip":
			if e.Test != "" {
				s.skipped++
				s.skips = append(s.skips, e.Package+"."+e.Test)
			}
		}
	}
	return s, sc.Err()
}

// verdict prints the summary line (and, under CI, the skipped tests) and
// says whether the run failed.
func verdict(s summary, ci bool, out io.Writer) bool {
	fmt.Fprintf(out, "%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	failed := s.failed > 0 || s.pkgFailed > 0
	if ci && s.skipped > 0 {
		fmt.Fprintf(out, "FAIL: %d tests skipped under CI, where every test must run:\n", s.skipped)
		for _, name := range s.skips {
			fmt.Fprintf(out, "  %s\n", name)
		}
		failed = true
	}
	return failed
}

func main() {
	s, err := read(os.Stdin, os.Stdout)
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	if verdict(s, ci, os.Stdout) || err != nil {
		os.Exit(1)
	}
}
