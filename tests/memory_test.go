package tests

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMemoryLimit: --memory-limit sets the Go runtime's soft memory limit
// (default 192Mi), 0 turns it off, GOMEMLIMIT wins over the flag, and a
// bad value stops the server with one line. The start-up log reports the
// limit the runtime holds (read back from it, not the flag echoed).
func TestMemoryLimit(t *testing.T) {
	needIntegration(t)
	limitRE := regexp.MustCompile(`memoryLimit="([^"]*)"`)
	limitOf := func(s *server) string {
		t.Helper()
		var m []string
		eventually(t, 10*time.Second, "the start-up log line", func() bool {
			m = limitRE.FindStringSubmatch(s.log.String())
			return m != nil
		})
		return m[1]
	}
	for _, tc := range []struct {
		name string
		opts []serverOption
		want string
	}{
		{"default", []serverOption{withEnv("GOMEMLIMIT=")}, "192Mi (--memory-limit)"},
		{"flag", []serverOption{withEnv("GOMEMLIMIT="), withArgs("--memory-limit=100Mi")}, "100Mi (--memory-limit)"},
		{"environment", []serverOption{withEnv("GOMEMLIMIT=", "SKIFF_MEMORY_LIMIT=1Gi")}, "1Gi (--memory-limit)"},
		{"off", []serverOption{withEnv("GOMEMLIMIT="), withArgs("--memory-limit=0")}, "off"},
		{"GOMEMLIMIT wins", []serverOption{withEnv("GOMEMLIMIT=300MiB"), withArgs("--memory-limit=100Mi")}, "300Mi (GOMEMLIMIT)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.opts...)
			if got := limitOf(s); got != tc.want {
				t.Errorf("memory limit in force: %q, want %q", got, tc.want)
			}
		})
	}

	for _, bad := range []string{"lots", "-1Mi"} {
		out, err := exec.Command(skiffBin, "server", "--config=", "--data-dir", t.TempDir(), "--disable-agent", "--memory-limit="+bad).CombinedOutput()
		msg := strings.TrimSpace(string(out))
		if err == nil || strings.Count(msg, "\n") > 0 || !strings.Contains(msg, "--memory-limit") || !strings.Contains(msg, bad) {
			t.Errorf("--memory-limit=%s: want one line naming the flag and the value and a non-zero exit, got err=%v\n%s", bad, err, out)
		}
	}
}
