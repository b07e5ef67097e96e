// Command coldstart measures each function's cold start (scripts/coldstart.sh,
// make coldstart; docs/lambda-mode.md): bootstrap size as `make build`
// builds it (linux/arm64, stripped), package init time (GODEBUG=inittrace=1,
// summed over every package), and under the Lambda Runtime Interface
// Emulator the Init Duration and the first and warm invoke latency of a
// representative event from events/ — beside a hello-world aws-lambda-go
// function (scripts/coldstart/hello) and the SDK floor of a registry
// function (scripts/coldstart/sdkfloor: aws-lambda-go with DynamoDB and
// S3 clients and nothing else; scripts/coldstart/sdkops: the same, linking
// the operations a registry function calls), measured in the same run. It runs in
// Lambda mode (shared/lambdamode) against the emulators in the SDK's
// environment variables, as `berth serve --lambda` does.
//
//	go run ./scripts/coldstart [-runs 5] [-warm 20]
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/lambdamode"
)

// events is the event each function is invoked with: a request it
// serves in full (the table is read; nothing is there), with the
// authorizer's decision in it as API Gateway passes it on.
var events = map[string]string{
	"base": "base-get.json", "manifests": "manifests-get-unknown.json", "blobs": "blobs-head.json",
	"uploads": "uploads-get.json", "tags": "tags-list-unknown.json", "referrers": "referrers-list-unknown.json",
	"catalog": "catalog-list.json", "token": "token-get-login.json", "admin": "admin-get-repositories.json",
	"authorizer": "authorizer-manifests-get-anonymous.json", "retention": "retention-scheduled.json",
	"console": "console-get-sign-in.json", "fill": "fill-job.json",
}

// payloads are the events of the functions not invoked with a file from
// events/: the events function gets an empty stream batch (Lambda mode
// has no stream; a batch with records would publish to a bus it lacks).
var payloads = map[string]string{"events": `{"Records":[]}`}

// The reference functions measured beside Berth's.
const (
	hello = "hello-world"
	floor = "sdk-floor"
	ops   = "sdk-floor-ops"
)

// references are the reference functions' packages.
var references = map[string]string{hello: "./scripts/coldstart/hello", floor: "./scripts/coldstart/sdkfloor", ops: "./scripts/coldstart/sdkops"}

func main() {
	runs := flag.Int("runs", 5, "cold starts per function")
	warm := flag.Int("warm", 20, "warm invocations after each cold start")
	flag.Parse()
	if err := run(*runs, *warm); err != nil {
		log.Fatal("coldstart: ", err)
	}
}

// lineLog is the functions' output, shared by every environment.
type lineLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lineLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

func (l *lineLog) since(m int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()[m:]
}

// initLine is one package's line of GODEBUG=inittrace=1: the time
// since its process's runtime started, and its init's own.
var initLine = regexp.MustCompile(`^init \S+ @([0-9.]+) ms, ([0-9.]+) ms clock`)

// initMS sums the package init times of the last process in a
// function's output. The emulator is a Go program too, started with the
// same GODEBUG, and its own inits come first: a process's trace starts
// where the time since start goes back.
func initMS(out string) (float64, int) {
	total, n, last := 0.0, 0, -1.0
	s := bufio.NewScanner(bytes.NewBufferString(out))
	for s.Scan() {
		m := initLine.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		at, _ := strconv.ParseFloat(m[1], 64)
		if at < last {
			total, n = 0, 0
		}
		last = at
		v, _ := strconv.ParseFloat(m[2], 64)
		total += v
		n++
	}
	return total, n
}

type result struct {
	name                         string
	sizeMB                       float64
	pkgInit, initDur, first, p50 []float64
	stub                         []float64
	packages                     int
}

func run(runs, warm int) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "berth-coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	names, err := lambdamode.FunctionNames(root)
	if err != nil {
		return err
	}
	sizes, err := armSizes(root, dir, names)
	if err != nil {
		return err
	}
	ctx := context.Background()
	logs := &lineLog{}
	endpoint := func(s string) string {
		if v := os.Getenv("AWS_ENDPOINT_URL_" + s); v != "" {
			return v
		}
		return os.Getenv("AWS_ENDPOINT_URL")
	}
	cfg := config.Config{Backend: "aws", Table: "berth-coldstart", Bucket: "berth-coldstart", Init: true, Auth: true,
		Service: "berth", Tenancy: "dev", TokenTTL: 15 * time.Minute, PresignTTL: 15 * time.Minute, Data: dir}
	l, err := lambdamode.NewLocal(ctx, cfg, lambdamode.Options{
		Root: root, Dir: filepath.Join(dir, "host"), RIE: lambdamode.FindRIE(os.Getenv("BERTH_RIE"), ""),
		Region: os.Getenv("AWS_REGION"), AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		Endpoints: lambdamode.Endpoints{DynamoDB: endpoint("DYNAMODB"), S3: endpoint("S3"), KMS: endpoint("KMS")},
		Logs:      logs, ExtraEnv: map[string]string{"GODEBUG": "inittrace=1"},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer l.Close()
	for _, name := range []string{hello, floor, ops} {
		boot := filepath.Join(dir, "host", name, "bootstrap")
		if err := build(root, "", boot, references[name]); err != nil {
			return err
		}
		if _, err := l.Runner.Add(lambdamode.Function{Name: name, MemoryMB: 256, Timeout: 10 * time.Second, Env: map[string]string{}}, boot); err != nil {
			return err
		}
		events[name] = "base-get.json"
	}
	order := append([]string{hello, floor, ops}, names...)
	// Round-robin: each round cold-starts every function once, so a
	// burst of load on a shared machine weighs on all of them alike
	// rather than on whichever was being measured.
	results := make([]result, len(order))
	evs := make([][]byte, len(order))
	for i, name := range order {
		if _, ok := l.Runner.Pools[name]; !ok {
			return fmt.Errorf("function %s is not in the stack", name)
		}
		if p, ok := payloads[name]; ok {
			evs[i] = []byte(p)
		} else if events[name] == "" {
			return fmt.Errorf("function %s has no event to invoke it with: name one from events/ in scripts/coldstart's events", name)
		} else if evs[i], err = os.ReadFile(filepath.Join(root, "events", events[name])); err != nil {
			return err
		}
		results[i] = result{name: name, sizeMB: sizes[name]}
	}
	for range runs {
		for i, name := range order {
			p, r, ev := l.Runner.Pools[name], &results[i], evs[i]
			m := logs.mark()
			start := time.Now()
			if _, err := p.Invoke(ctx, ev); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			r.first = append(r.first, ms(time.Since(start)))
			var lat []float64
			for range warm {
				start := time.Now()
				if _, err := p.Invoke(ctx, ev); err != nil {
					return fmt.Errorf("%s (warm): %w", name, err)
				}
				lat = append(lat, ms(time.Since(start)))
			}
			r.p50 = append(r.p50, median(lat))
			time.Sleep(100 * time.Millisecond) // the emulator's log lines arrive on their own
			cs := p.ColdStarts()
			r.initDur = append(r.initDur, ms(cs[len(cs)-1]))
			pi, n := initMS(logs.since(m))
			r.pkgInit, r.packages = append(r.pkgInit, pi), n
			p.Close() // the next invocation starts cold
		}
	}
	pools := make([]*lambdamode.Pool, len(order))
	for i, name := range order {
		pools[i] = l.Runner.Pools[name]
	}
	// A start without the emulator takes a few milliseconds: five per
	// cold start narrow its median.
	stub, err := stubStarts(pools, 5*runs)
	if err != nil {
		return err
	}
	for i := range results {
		results[i].stub = stub[i]
	}
	report(results, runs, warm)
	return nil
}

// armSizes builds every function and the reference functions as `make
// build` does (linux/arm64, stripped) and returns their sizes in MB.
func armSizes(root, dir string, names []string) (map[string]float64, error) {
	sizes := map[string]float64{}
	for _, n := range append(names, hello, floor, ops) {
		pkg := "./functions/" + n
		if ref, ok := references[n]; ok {
			pkg = ref
		}
		out := filepath.Join(dir, "arm64", n)
		if err := build(root, "arm64", out, pkg); err != nil {
			return nil, err
		}
		fi, err := os.Stat(out)
		if err != nil {
			return nil, err
		}
		sizes[n] = float64(fi.Size()) / 1e6
	}
	return sizes, nil
}

// build builds pkg as the Makefile's build rule does, for goarch (""
// for this machine).
func build(root, goarch, out, pkg string) error {
	cmd := exec.Command("go", append(append([]string{"build"}, lambdamode.BuildFlags...), "-o", out, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if goarch != "" {
		cmd.Env = append(cmd.Env, "GOOS=linux", "GOARCH="+goarch)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// report prints the table: medians over the runs, and each function's
// size and init ratios to the hello world's.
func report(rs []result, runs, warm int) {
	base := rs[0]
	fmt.Printf("Cold starts under aws-lambda-rie: median of %d cold starts, warm = median of %d invocations after each; stub starts: median of %d.\n", runs, warm, len(base.stub))
	fmt.Printf("Size: linux/arm64 stripped bootstrap (make build). Package init: GODEBUG=inittrace=1, summed over the function's packages (not the emulator's). Init Duration: the runtime's INIT phase as the emulator reports it. Stub start: exec to the first GET .../invocation/next against a stub runtime API, without the emulator or GODEBUG (stubStarts).\n\n")
	fmt.Println("| function | bootstrap MB | × hello | packages | package init ms | Init Duration ms | × hello | stub start ms | × hello | first invoke ms | warm p50 ms |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Printf("| %s | %.1f | %.2f | %d | %.2f | %.1f | %.2f | %.2f | %.2f | %.1f | %.2f |\n", r.name, r.sizeMB, r.sizeMB/base.sizeMB, r.packages,
			median(r.pkgInit), median(r.initDur), median(r.initDur)/median(base.initDur),
			median(r.stub), median(r.stub)/median(base.stub), median(r.first), median(r.p50))
	}
}
