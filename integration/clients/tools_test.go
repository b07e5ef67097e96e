package clients

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// setup names the script that installs every tool these tests use.
const setup = "scripts/ci-clients.sh (then source the env file it writes)"

// busybox is the static binary the base image is made of (Debian's
// busybox-static).
const busybox = "/bin/busybox"

var (
	toolMu     sync.Mutex
	toolChecks = map[string]string{} // tool → "" if usable, else why not
)

// need skips the test unless every tool is usable — on PATH, and for
// docker and ctr with a daemon that answers; under CI=true it fails
// instead, since CI installs them all.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		toolMu.Lock()
		why, ok := toolChecks[tool]
		if !ok {
			why = checkTool(tool)
			toolChecks[tool] = why
		}
		toolMu.Unlock()
		if why == "" {
			continue
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %s; CI must run %s", tool, why, setup)
		}
		t.Skipf("%s: %s; install and start it with %s", tool, why, setup)
	}
}

// checkTool says why tool cannot be used, or "" if it can.
func checkTool(tool string) string {
	if tool == "busybox" {
		return checkStatic(busybox)
	}
	if _, err := exec.LookPath(tool); err != nil {
		return "not found on PATH"
	}
	var probe []string
	switch tool {
	case "docker":
		probe = []string{"docker", "version", "--format", "{{.Server.Version}}"}
	case "ctr":
		probe = []string{"ctr", "version"}
	default:
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, probe[0], probe[1:]...).CombinedOutput(); err != nil {
		return fmt.Sprintf("its daemon does not answer (%v: %s)", err, lastLine(string(out)))
	}
	return ""
}

// checkStatic says why path is not a statically linked executable: the
// base image has no libc.
func checkStatic(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Sprintf("%s is missing or not an executable (apt-get install busybox-static)", path)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Sprintf("%s is dynamically linked; the base image needs busybox-static", path)
		}
	}
	return ""
}

// shell runs client commands for one test, with the clients' own
// configuration kept in the test's temporary directory.
type shell struct {
	t    *testing.T
	root *testing.T // owns cleanups, which outlive subtests
	dir  string
	env  []string
}

func newShell(t *testing.T) *shell {
	dir := t.TempDir()
	env := append(os.Environ(),
		"DOCKER_CONFIG="+filepath.Join(dir, ".docker"),
		"DOCKER_BUILDKIT=0",
		"REGCTL_CONFIG="+filepath.Join(dir, "regctl.json"),
	)
	return &shell{t: t, root: t, dir: dir, env: env}
}

// In returns the shell for subtest t: failures end t, not its parent.
func (s *shell) In(t *testing.T) *shell {
	c := *s
	c.t = t
	return &c
}

// Cleanup runs f (with a shell of the top-level test) when the top-level
// test ends.
func (s *shell) Cleanup(f func(s *shell)) {
	s.root.Cleanup(func() { f(s.In(s.root)) })
}

// Path returns a path under the shell's directory.
func (s *shell) Path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

// Run runs a command that must succeed and returns its standard output.
func (s *shell) Run(name string, args ...string) string {
	s.t.Helper()
	stdout, stderr, err := s.Try(name, args...)
	if err != nil {
		s.t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, tail(stdout), tail(stderr))
	}
	return stdout
}

// Fail runs a command that must fail and returns its standard error and
// output together.
func (s *shell) Fail(name string, args ...string) string {
	s.t.Helper()
	stdout, stderr, err := s.Try(name, args...)
	if err == nil {
		s.t.Fatalf("%s %s succeeded, want an error\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), tail(stdout), tail(stderr))
	}
	return stderr + stdout
}

// Try runs a command and returns what it printed and how it ended.
func (s *shell) Try(name string, args ...string) (stdout, stderr string, err error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = s.env
	cmd.Dir = s.dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err = cmd.Run()
	s.t.Logf("$ %s %s  (%.1fs)", name, strings.Join(args, " "), time.Since(start).Seconds())
	return o.String(), e.String(), err
}

// tail keeps the end of long command output for failure messages.
func tail(s string) string {
	const n = 4000
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
