// Command testsum reads `go test -json` on stdin, prints the usual go test
// output, and ends with one line counting every test that ran:
// "N passed, N failed, N skipped". It exits non-zero if any test or
// package failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	var passed, failed, skipped, pkgFailed int
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		var e event
		if err := json.Unmarshal(in.Bytes(), &e); err != nil {
			// Not JSON (a build error printed by go itself): pass it on.
			fmt.Println(in.Text())
			continue
		}
		switch e.Action {
		case "output":
			fmt.Print(e.Output)
		case "pass":
			if e.Test != "" {
				passed++
			}
		case "fail":
			if e.Test != "" {
				failed++
			} else {
				pkgFailed++
			}
		case "skip":
			if e.Test != "" {
				skipped++
			}
		}
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || pkgFailed > 0 || in.Err() != nil {
		os.Exit(1)
	}
}
