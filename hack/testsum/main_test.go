package main

import (
	"strings"
	"testing"
)

const stream = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- PASS: TestA\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"pass","Package":"p"}
`

func TestSkipFailsOnlyUnderCI(t *testing.T) {
	var out strings.Builder
	s, err := read(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	if s.passed != 1 || s.skipped != 1 || s.failed != 0 {
		t.Fatalf("counted %+v", s)
	}
	if !strings.Contains(out.String(), "--- PASS: TestA") {
		t.Errorf("test output not passed on: %q", out.String())
	}
	var local strings.Builder
	if verdict(s, false, &local) {
		t.Errorf("a skip failed the run outside CI")
	}
	if !strings.HasPrefix(local.String(), "1 passed, 0 failed, 1 skipped\n") {
		t.Errorf("summary line %q", local.String())
	}
	var ci strings.Builder
	if !verdict(s, true, &ci) {
		t.Errorf("a skip passed the run under CI")
	}
	if !strings.Contains(ci.String(), "p.TestB") {
		t.Errorf("CI verdict does not name the skipped test: %q", ci.String())
	}
}

func TestFailureFails(t *testing.T) {
	s, _ := read(strings.NewReader(`{"Action":"fail","Package":"p"}`+"\n"), &strings.Builder{})
	if !verdict(s, false, &strings.Builder{}) {
		t.Fatal("a failed package passed the run")
	}
}
