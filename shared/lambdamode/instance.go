package lambdamode

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// instance is one execution environment: the runtime interface emulator
// (aws-lambda-rie) with the function's bootstrap under it. Like a Lambda
// execution environment it runs one invocation at a time; the emulator
// answers a second one at once with 400, so the Pool hands each instance
// to one caller at a time.
type instance struct {
	fn     Function
	cmd    *exec.Cmd
	invoke string // the emulator's invoke URL
	client *http.Client
	done   chan struct{} // closed when the emulator exited

	mu       sync.Mutex
	initMS   float64 // the runtime's init duration, once known
	bootPID  int     // the bootstrap's process id, once found
	invokes  int
	lastInit chan struct{} // closed when initMS is known
}

// invokePath is where the emulator takes invocations: Lambda's Invoke
// API path for the one function it runs, always named "function".
const invokePath = "/2015-03-31/functions/function/invocations"

// initReport is the emulator's log line with the runtime's init
// duration. (Its REPORT line's "Init Duration" times only the emulator's
// own bookkeeping, well under a millisecond.)
var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// rieLine matches the emulator's own log lines (rapid's, and the START,
// END and REPORT lines of each invocation), as opposed to the function's.
var rieLine = regexp.MustCompile(`^(\d\d \w{3} \d{4} [0-9:,]+ \[\w+\] \(rapid\)|START RequestId:|END RequestId:|REPORT RequestId:)`)

// startInstance starts the emulator for fn on two free 127.0.0.1 ports
// (its invoke API and the Runtime API it serves the bootstrap), with
// exactly env as the environment (the emulator hands it on to the
// bootstrap), and waits until it takes invocations. The function's own
// output lines go to logs.
//
// The ports are free when chosen but not held, so another process (or
// the second choice itself) can take one before the emulator binds it:
// then the emulator exits at once, and a start is tried again on other
// ports, three times in all.
func startInstance(ctx context.Context, rie, bootstrap string, fn Function, env []string, logs io.Writer) (*instance, error) {
	var err error
	for range 3 {
		var in *instance
		if in, err = tryStart(ctx, rie, bootstrap, fn, env, logs); !errors.Is(err, errExitedAtStart) {
			return in, err
		}
	}
	return nil, err
}

// errExitedAtStart is a start whose emulator exited before it listened.
var errExitedAtStart = errors.New("exited at start")

func tryStart(ctx context.Context, rie, bootstrap string, fn Function, env []string, logs io.Writer) (*instance, error) {
	invokeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	for err == nil && runtimeAddr == invokeAddr {
		runtimeAddr, err = freeAddr()
	}
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", runtimeAddr, bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = env
	cmd.SysProcAttr = procAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	in := &instance{fn: fn, cmd: cmd, invoke: "http://" + invokeAddr + invokePath,
		client: &http.Client{}, done: make(chan struct{}), lastInit: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", rie, err)
	}
	go in.readLogs(out, logs)
	go func() { _ = cmd.Wait(); close(in.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", invokeAddr, time.Second)
		if err == nil {
			c.Close()
			return in, nil
		}
		select {
		case <-in.done:
			return nil, fmt.Errorf("the runtime emulator for %s %w: %v", fn.Name, errExitedAtStart, cmd.ProcessState)
		case <-ctx.Done():
			in.close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.close()
			return nil, fmt.Errorf("the runtime emulator for %s did not listen on %s within 10s", fn.Name, invokeAddr)
		}
	}
}

// readLogs reads the emulator's output: it notes the init duration and
// passes the function's own lines on to logs.
func (in *instance) readLogs(r io.Reader, logs io.Writer) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if m := initReport.FindStringSubmatch(line); m != nil {
			ms, _ := strconv.ParseFloat(m[1], 64)
			in.mu.Lock()
			in.initMS = ms
			close(in.lastInit)
			in.mu.Unlock()
		}
		if rieLine.MatchString(line) && !strings.Contains(line, "[ERROR]") && !strings.Contains(line, "[WARN") {
			continue
		}
		if logs != nil {
			fmt.Fprintln(logs, line)
		}
	}
}

// FunctionError is a function's failure as the invoke API reports it
// (an error returned by the handler, a panic, a runtime that exited, a
// timeout): API Gateway answers the request with 500.
type FunctionError struct {
	Function string
	Type     string
	Message  string
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function %s failed: %s: %s", e.Function, e.Type, e.Message)
}

// errBroken marks an instance that must not be used again.
var errBroken = errors.New("the execution environment is gone")

// call sends one invocation and returns the function's response. An
// error wrapping errBroken means the instance is done for.
func (in *instance) call(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.invoke, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	res, err := in.client.Do(req)
	if err != nil {
		// Cut off mid-invocation (the caller gave up): the emulator still
		// runs it, so this environment cannot take the next one.
		return nil, fmt.Errorf("invoke %s: %v (%w)", in.fn.Name, err, errBroken)
	}
	out, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %v (%w)", in.fn.Name, err, errBroken)
	}
	in.mu.Lock()
	in.invokes++
	in.mu.Unlock()
	if res.StatusCode != http.StatusOK {
		// 502: the runtime exited or failed to init; 504: reservation
		// timed out. Either way this environment is finished.
		return nil, fmt.Errorf("%w (%w)", &FunctionError{Function: in.fn.Name, Type: "Runtime." + http.StatusText(res.StatusCode), Message: string(out)}, errBroken)
	}
	if bytes.HasPrefix(out, []byte("Task timed out after")) {
		return nil, fmt.Errorf("%w (%w)", &FunctionError{Function: in.fn.Name, Type: "Sandbox.Timedout", Message: string(out)}, errBroken)
	}
	if fe := functionError(in.fn.Name, out); fe != nil {
		// Lambda marks these with X-Amz-Function-Error; the emulator
		// sends the error document alone, with 200.
		return nil, fe
	}
	if err := in.checkMemory(); err != nil {
		return nil, err
	}
	return out, nil
}

// functionError recognizes the error document the runtime posts for a
// failed invocation: an object of errorMessage, errorType and, at most,
// stackTrace — which no API Gateway response or authorizer answer is.
func functionError(name string, out []byte) *FunctionError {
	if !bytes.HasPrefix(bytes.TrimSpace(out), []byte("{")) || !bytes.Contains(out, []byte(`"errorType"`)) {
		return nil
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(out, &doc) != nil || doc["errorType"] == nil || doc["errorMessage"] == nil {
		return nil
	}
	for k := range doc {
		if k != "errorType" && k != "errorMessage" && k != "stackTrace" {
			return nil
		}
	}
	fe := &FunctionError{Function: name}
	_ = json.Unmarshal(doc["errorType"], &fe.Type)
	_ = json.Unmarshal(doc["errorMessage"], &fe.Message)
	return fe
}

// checkMemory fails the environment whose bootstrap has used more than
// the function's memory size at its peak: Lambda would have killed it
// (Runtime.OutOfMemory), so the request fails here as it would there.
func (in *instance) checkMemory() error {
	peak, err := in.peakMB()
	if err != nil || peak <= float64(in.fn.MemoryMB) {
		return nil // no /proc to read: memory goes unchecked
	}
	return fmt.Errorf("%w (%w)", &FunctionError{Function: in.fn.Name, Type: "Runtime.OutOfMemory",
		Message: fmt.Sprintf("peak resident memory %.0f MB is over the function's %d MB memory size", peak, in.fn.MemoryMB)}, errBroken)
}

// peakMB is the bootstrap's peak resident set size (VmHWM) in MB.
func (in *instance) peakMB() (float64, error) {
	pid, err := in.bootstrapPID()
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmHWM")
}

// bootstrapPID finds the bootstrap: the emulator's child process.
func (in *instance) bootstrapPID() (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.bootPID != 0 {
		return in.bootPID, nil
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", in.cmd.Process.Pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				in.bootPID = pid
				return pid, nil
			}
		}
	}
	return 0, errors.New("bootstrap process not found")
}

// initDuration is the runtime's init duration, waiting up to a second
// for the line that reports it.
func (in *instance) initDuration() (time.Duration, bool) {
	select {
	case <-in.lastInit:
	case <-time.After(time.Second):
		return 0, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return time.Duration(in.initMS * float64(time.Millisecond)), true
}

// close ends the emulator and the bootstrap.
func (in *instance) close() {
	if in.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-in.done:
	case <-time.After(5 * time.Second):
	}
}

// freeAddr returns a 127.0.0.1 address with a port nothing listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
