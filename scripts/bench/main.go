// Command bench compares Berth's local gateway (embedded storage, AWS
// limits on) with go-containerregistry's in-memory registry on the same
// workloads, both served in-process on 127.0.0.1:
//
//	go run ./scripts/bench [-duration 5s] [-rounds 3] [-reps 3] [-clients 8,32] [-cpuprofile berth.pprof]
//
// Workloads: push and pull of an image with 5 × 4 MiB random layers
// (MB/s, every pulled layer re-hashed), push of 50 small images
// (images/s), and manifest HEAD and GET by tag (requests/s) with N
// concurrent keep-alive clients for a fixed duration, checking the status
// and Docker-Content-Digest of every response; and the same manifest
// requests made in-process (handler called directly, no sockets),
// measured per second of CPU time. Inputs are generated from
// a fixed seed, so both registries see identical bytes. Each workload
// runs in rounds that alternate which registry goes first, and the median
// round is reported, so that other load on the machine falls on both.
//
// Berth runs with authentication off (as `berth serve` with
// BERTH_AUTH=off; it is on by default there), since ggcr has none: both
// answer the same anonymous requests.
//
// With -cpuprofile, a CPU profile is written for the span of the manifest
// workloads. Each registry's server goroutines carry the pprof label
// server=berth or server=ggcr, and the in-process calls inproc=berth or
// inproc=ggcr, so `go tool pprof -tagfocus=server=berth -top bench
// berth.pprof` shows Berth's side alone, without the load generator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
)

// server is one registry under test.
type server struct {
	name string
	host string // 127.0.0.1:port
	// handler is the registry's http.Handler, for in-process calls.
	handler http.Handler
	// transport is shared by the push and pull workloads of this server.
	transport *http.Transport
	close     func()
}

// row is one line of the result table.
type row struct {
	workload, unit string
	berth, ggcr    float64
}

func main() {
	duration := flag.Duration("duration", 5*time.Second, "how long each manifest HEAD/GET workload runs per registry and client count")
	rounds := flag.Int("rounds", 3, "slices the manifest workloads' duration is split into, alternating registries (the median is reported)")
	reps := flag.Int("reps", 3, "repetitions of the push/pull workloads, alternating registries (the median is reported)")
	clientsFlag := flag.String("clients", "8,32", "comma-separated concurrent client counts for the manifest workloads")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the manifest workloads to this file (pprof labels server= and inproc= tell the registries apart)")
	timeout := flag.Duration("timeout", 5*time.Minute, "upper bound on the whole run")
	flag.Parse()
	clients, err := parseClients(*clientsFlag)
	if err != nil || *reps < 1 || *rounds < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -clients must be positive integers, -reps and -rounds ≥ 1, -duration > 0")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rows, err := run(ctx, *duration, *rounds, *reps, clients, *cpuprofile)
	printTable(os.Stdout, rows)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseClients(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad client count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, duration time.Duration, rounds, reps int, clients []int, cpuprofile string) ([]row, error) {
	dir, err := os.MkdirTemp("", "berth-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	berth, err := startBerth(ctx, dir, cpuprofile != "")
	if err != nil {
		return nil, fmt.Errorf("start berth: %w", err)
	}
	defer berth.close()
	mem, err := startGGCR(cpuprofile != "")
	if err != nil {
		return nil, fmt.Errorf("start ggcr: %w", err)
	}
	defer mem.close()
	servers := []*server{berth, mem}
	requests := map[*server]int64{}

	var rows []row
	// add measures one workload in rounds, alternating which registry
	// goes first so that load from elsewhere on the machine falls on both
	// alike, and reports each registry's median.
	add := func(workload, unit string, rounds int, f func(s *server, round int) (float64, error)) error {
		vals := map[*server][]float64{}
		for i := range rounds {
			order := servers
			if i%2 == 1 {
				order = []*server{mem, berth}
			}
			for _, s := range order {
				runtime.GC()
				v, err := f(s, i)
				if err != nil {
					return fmt.Errorf("%s on %s: %w", workload, s.name, err)
				}
				vals[s] = append(vals[s], v)
			}
		}
		r := row{workload: workload, unit: unit, berth: median(vals[berth]), ggcr: median(vals[mem])}
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "bench: %-26s berth %9.1f  ggcr %9.1f %-8s (rounds: berth %.1f, ggcr %.1f)\n",
			workload, r.berth, r.ggcr, unit, vals[berth], vals[mem])
		return nil
	}

	big, err := bigImages(reps)
	if err != nil {
		return rows, err
	}
	err = add("push 5×4 MiB image", "MB/s", reps, func(s *server, i int) (float64, error) { return pushBig(ctx, s, big[i]) })
	if err != nil {
		return rows, err
	}
	err = add("pull 5×4 MiB image", "MB/s", reps, func(s *server, i int) (float64, error) { return pullBig(ctx, s, big[i]) })
	if err != nil {
		return rows, err
	}
	small, err := smallImages(reps, 50)
	if err != nil {
		return rows, err
	}
	err = add("push 50 small images", "images/s", reps, func(s *server, i int) (float64, error) { return pushSmall(ctx, s, small[i]) })
	if err != nil {
		return rows, err
	}

	// The manifest workloads read the first big image by tag. One CPU
	// profile spans them all; the server label tells the sides apart.
	if cpuprofile != "" {
		stop, err := startProfile(cpuprofile)
		if err != nil {
			return rows, err
		}
		defer stop()
	}
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		for _, n := range clients {
			name := fmt.Sprintf("manifest %s, %d clients", method, n)
			err := add(name, "req/s", rounds, func(s *server, _ int) (float64, error) {
				rate, count, err := hammer(ctx, s, method, big[0], n, duration/time.Duration(rounds))
				requests[s] += count
				return rate, err
			})
			if err != nil {
				return rows, err
			}
		}
	}
	// The same requests without sockets or clients: one goroutine calls
	// each registry's handler directly, and the rate is per second of
	// the process's CPU time, so that it measures the server's own work
	// and holds up on a busy machine.
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		name := fmt.Sprintf("manifest %s, in-process", method)
		allocs := map[*server]float64{}
		err := add(name, "req/CPU-s", rounds, func(s *server, _ int) (float64, error) {
			rate, a, err := inProcess(ctx, s, method, big[0], duration/time.Duration(rounds))
			allocs[s] = a
			return rate, err
		})
		if err != nil {
			return rows, err
		}
		fmt.Fprintf(os.Stderr, "bench: %-26s allocations/request: berth %.0f, ggcr %.0f\n", name, allocs[berth], allocs[mem])
	}
	fmt.Fprintf(os.Stderr, "bench: manifest requests served: berth %d, ggcr %d\n", requests[berth], requests[mem])
	return rows, nil
}

// startProfile starts a CPU profile written to path when stopped.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// serve runs h on a fresh 127.0.0.1 port.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return ln.Addr().String(), stop, nil
}

func startBerth(ctx context.Context, dir string, label bool) (*server, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l, err := inprocess.New(ctx, config.Config{Backend: "embedded", Data: dir, Limits: true, PresignTTL: 15 * time.Minute}, quiet)
	if err != nil {
		return nil, err
	}
	var h http.Handler = l.Gateway
	handler := h
	if label {
		h = labeled(h, "berth")
	}
	host, stop, err := serve(h)
	if err != nil {
		l.Close()
		return nil, err
	}
	return &server{name: "berth", host: host, handler: handler, transport: newTransport(4), close: func() { stop(); l.Close() }}, nil
}

func startGGCR(label bool) (*server, error) {
	h := ggcr.New(ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0)))
	handler := h
	if label {
		h = labeled(h, "ggcr")
	}
	host, stop, err := serve(h)
	if err != nil {
		return nil, err
	}
	return &server{name: "ggcr", host: host, handler: handler, transport: newTransport(4), close: stop}, nil
}

// labeled tags the goroutines serving h (and those they start) with a
// pprof label, so a profile can be narrowed to the server side.
func labeled(h http.Handler, name string) http.Handler {
	labels := pprof.Labels("server", name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.Do(r.Context(), labels, func(ctx context.Context) { h.ServeHTTP(w, r.WithContext(ctx)) })
	})
}

// newTransport is a keep-alive transport for up to conns parallel
// connections to one host.
func newTransport(conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns * 2
	t.MaxIdleConnsPerHost = conns * 2
	t.Proxy = nil
	return t
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tunit\tberth\tggcr\tberth/ggcr\t")
	for _, r := range rows {
		ratio := "-"
		if r.ggcr > 0 {
			ratio = fmt.Sprintf("%.2f×", r.berth/r.ggcr)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%s\t\n", r.workload, r.unit, r.berth, r.ggcr, ratio)
	}
	if err := tw.Flush(); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
}
