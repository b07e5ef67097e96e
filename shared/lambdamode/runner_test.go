package lambdamode

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/emulator"
)

// probePool builds testdata/probe and runs it in a pool of at most max
// environments under the runtime emulator, as fn.
func probePool(t *testing.T, fn Function, max int) *Pool {
	t.Helper()
	rie := emulator.RIE(t)
	dir := t.TempDir()
	boot := filepath.Join(dir, fn.Name, "bootstrap")
	cmd := exec.Command("go", append(append([]string{"build"}, BuildFlags...), "-o", boot, "./testdata/probe")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	env, err := environment(fn, Options{Dir: dir, Region: "eu-west-1", AccessKeyID: "AKID", SecretAccessKey: "secret",
		Endpoints: Endpoints{DynamoDB: "http://127.0.0.1:1", S3: "http://localhost:2", KMS: "http://127.0.0.1:3"}}, "http://127.0.0.1:4")
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(fn, rie, boot, env, max, nil)
	t.Cleanup(p.Close)
	return p
}

func invoke(t *testing.T, p *Pool, req string) (string, error) {
	t.Helper()
	out, err := p.Invoke(t.Context(), []byte(req))
	return string(out), err
}

// TestFunctionSeesExactlyItsEnvironment: the stack's variables, Lambda's
// reserved ones and the emulator endpoints reach the bootstrap, and
// nothing of this process's environment does.
func TestFunctionSeesExactlyItsEnvironment(t *testing.T) {
	t.Setenv("BERTH_LEAK", "from the test process")
	fn := Function{Name: "probe", Env: map[string]string{"BERTH_TABLE": "t1", "BERTH_SIGNING_KEY_ID": "arn:aws:kms:eu-west-1:111122223333:key/k"}, MemoryMB: 256, Timeout: 10 * time.Second}
	p := probePool(t, fn, 1)
	out, err := invoke(t, p, `{"Do":"env"}`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("probe answered %s: %v", out, err)
	}
	want := append([]string(nil), p.env...)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("the function lacks %s", w)
		}
	}
	// What the emulator adds, as Lambda does: the Runtime and metadata
	// APIs, the handler, the log stream, the trace id, the (empty)
	// session token.
	added := []string{"AWS_LAMBDA_RUNTIME_API=", "AWS_LAMBDA_METADATA_", "_HANDLER=", "AWS_LAMBDA_LOG_STREAM_NAME=",
		"AWS_XRAY_DAEMON_ADDRESS=", "_AWS_XRAY_DAEMON_", "_X_AMZN_TRACE_ID=", "AWS_SESSION_TOKEN="}
	for _, g := range got {
		extra := !slices.Contains(want, g)
		for _, a := range added {
			if strings.HasPrefix(g, a) {
				extra = false
			}
		}
		if extra {
			t.Errorf("the function sees %s, which neither the stack nor Lambda sets", g)
		}
	}
}

// TestFailuresAreFunctionErrors: a handler's error, an environment over
// its memory size and a timeout each fail the invocation as Lambda
// reports them; the pool replaces an environment that is gone.
func TestFailuresAreFunctionErrors(t *testing.T) {
	p := probePool(t, Function{Name: "probe", MemoryMB: 64, Timeout: 2 * time.Second}, 1)
	for _, c := range []struct{ req, typ, msg string }{
		{`{"Do":"fail"}`, "errorString", "failed on purpose"},
		{`{"Do":"alloc","MB":100}`, "Runtime.OutOfMemory", "over the function's 64 MB"},
		{`{"Do":"sleep","Sleep":"4s"}`, "Sandbox.Timedout", "Task timed out"},
	} {
		out, err := invoke(t, p, c.req)
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Type != c.typ || !strings.Contains(fe.Message, c.msg) {
			t.Errorf("%s: %q, %v; want a %s function error saying %q", c.req, out, err, c.typ, c.msg)
		}
		if out, err := invoke(t, p, `{"Do":"alloc","MB":8}`); err != nil || out != "8388608" {
			t.Errorf("after %s: the next invocation answered %q, %v", c.req, out, err)
		}
	}
	// One environment for the handler's error (it survives), one after
	// the memory failure, one after the timeout.
	if n := len(p.ColdStarts()); n != 3 {
		t.Errorf("%d cold starts, want 3", n)
	}
}

// TestPoolScalesOutUpToItsConcurrency: concurrent invocations each get
// an environment of their own, at most max at once; the rest wait.
func TestPoolScalesOutUpToItsConcurrency(t *testing.T) {
	p := probePool(t, Function{Name: "probe", MemoryMB: 128, Timeout: 10 * time.Second}, 2)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			if _, err := p.Invoke(context.Background(), []byte(`{"Do":"sleep","Sleep":"500ms"}`)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent invocation: %v", err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("4 invocations of 500 ms on 2 environments took %v, want at least 1 s", d)
	}
	time.Sleep(100 * time.Millisecond) // the init lines are read asynchronously
	if n := len(p.ColdStarts()); n != 2 {
		t.Errorf("%d environments started, want 2", n)
	}
}
