// Command bench measures Berth beside the distribution registry and
// go-containerregistry's in-memory registry on the same workloads, in
// one run on 127.0.0.1:
//
//	go run ./scripts/bench [-quick] [-duration 6s] [-rounds 3] [-reps 3] [-servers ...] [-workloads ...] [-cpuprofile berth.pprof]
//
// The registries (columns, -servers): distribution (its filesystem
// driver, no authentication; the binary BERTH_DISTRIBUTION_REGISTRY
// names, which scripts/bench.sh builds), ggcr (go-containerregistry's
// in-memory registry), berth-off (`make run` with BERTH_AUTH=off) and
// berth-on (`make run` as users get it: authentication on, AWS limits
// on). Both Berths run in this process, configured by config.FromEnv
// as `berth serve` is, on embedded storage in a temporary directory.
// Against berth-on the client logs in as the bootstrap admin with its
// auth token and uses the Docker token flow: go-containerregistry's
// client asks the token endpoint for a Bearer token per push or pull,
// and the raw-HTTP workloads send a Bearer token got the same way.
//
// Workloads (-workloads): push (cold push of an image of 5 × 4 MiB
// random layers, new content every repetition), pull (pull of it, every
// layer re-hashed), small (50 small images pushed), tags (1,000 tags
// created on one manifest by PUT, then the list of 1,000 fetched), head
// and get (manifest HEAD with 8 and GET with 32 concurrent keep-alive
// clients for a fixed duration, checking status and digest; GET reports
// its p99 latency too), inproc (the same manifest requests made by
// calling the handler directly, per second of CPU time; Berth and ggcr
// only). Inputs come from a fixed seed, so every registry sees the same
// bytes. Each workload runs in rounds that rotate which registry goes
// first, and the median is reported, so that other load on the machine
// falls on all alike.
//
// The table's ratio columns are speed-ups (above 1: the first is
// faster) for every row, whether its unit is a rate or a time.
//
// With -cpuprofile, a CPU profile of the whole run is written. Each
// in-process registry's server goroutines carry the pprof label
// server=<name>, and the in-process calls inproc=<name>, so `go tool
// pprof -tagfocus=server=berth-on -top bench berth.pprof` shows one
// side alone; -servers and -workloads narrow the run to what is profiled.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// row is one line of the result table: a value per registry.
type row struct {
	workload, unit string
	// lowerBetter: the unit is a time, so a speed-up is a÷b inverted.
	lowerBetter bool
	vals        map[string]float64
}

// options are the command's flags.
type options struct {
	duration       time.Duration
	rounds, reps   int
	tags           int
	servers, loads []string
	cpuprofile     string
}

func main() {
	var o options
	quick := flag.Bool("quick", false, "a quick run (about a minute): -duration 2s -rounds 1 -reps 1")
	flag.DurationVar(&o.duration, "duration", 6*time.Second, "how long each manifest HEAD/GET workload runs per registry")
	flag.IntVar(&o.rounds, "rounds", 3, "slices the manifest workloads' duration is split into, rotating registries (the median is reported)")
	flag.IntVar(&o.reps, "reps", 3, "repetitions of the push, pull and tag workloads, rotating registries (the median is reported)")
	flag.IntVar(&o.tags, "tags", 1000, "tags created and listed by the tags workload")
	servers := flag.String("servers", strings.Join(allServers, ","), "registries to measure, in column order")
	loads := flag.String("workloads", strings.Join(allWorkloads, ","), "workloads to run")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the run to this file (pprof labels server= and inproc= tell the registries apart)")
	flag.BoolVar(&traceRequests, "trace", false, "log every request the in-process registries serve, with its status and duration")
	timeout := flag.Duration("timeout", 10*time.Minute, "upper bound on the whole run")
	flag.Parse()
	if *quick {
		o.duration, o.rounds, o.reps = 2*time.Second, 1, 1
	}
	o.servers, o.loads = split(*servers), split(*loads)
	if o.reps < 1 || o.rounds < 1 || o.duration <= 0 || o.tags < 1 || len(o.servers) == 0 {
		fmt.Fprintln(os.Stderr, "bench: -reps, -rounds and -tags must be ≥ 1, -duration > 0, -servers not empty")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rows, err := run(ctx, o)
	printTable(os.Stdout, o.servers, rows)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// allWorkloads is every workload, in the order they run.
var allWorkloads = []string{"push", "pull", "small", "tags", "head", "get", "inproc"}

func run(ctx context.Context, o options) ([]row, error) {
	for _, w := range o.loads {
		if !slices.Contains(allWorkloads, w) {
			return nil, fmt.Errorf("unknown workload %q (want some of %s)", w, strings.Join(allWorkloads, ","))
		}
	}
	dir, err := os.MkdirTemp("", "berth-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.close()
		}
	}()
	for _, name := range o.servers {
		s, err := start(ctx, name, dir, o.cpuprofile != "")
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		servers = append(servers, s)
	}
	if o.cpuprofile != "" {
		stop, err := startProfile(o.cpuprofile)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	b := &bench{ctx: ctx, o: o, servers: servers}
	for _, w := range allWorkloads {
		if !slices.Contains(o.loads, w) {
			continue
		}
		if err := workloads[w](b); err != nil {
			return b.rows, err
		}
	}
	return b.rows, nil
}

// bench is one run: its options, servers and the rows measured so far.
type bench struct {
	ctx     context.Context
	o       options
	servers []*server
	rows    []row
	// big are the 5 × 4 MiB images, one per repetition; the pull and
	// manifest workloads read big[0] (pushed by the push workload, or
	// by need).
	big      []testImage
	bigReady map[*server]bool
}

// add measures one workload in rounds, rotating which registry goes
// first, and adds a row of each registry's median.
func (b *bench) add(workload, unit string, lowerBetter bool, rounds int, f func(s *server, round int) (float64, error)) error {
	vals := map[string][]float64{}
	for i := range rounds {
		for j := range b.servers {
			s := b.servers[(i+j)%len(b.servers)]
			runtime.GC()
			v, err := f(s, i)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", workload, s.name, err)
			}
			vals[s.name] = append(vals[s.name], v)
		}
	}
	b.addRow(workload, unit, lowerBetter, vals)
	return nil
}

// addRow adds a row of the median of each registry's values.
func (b *bench) addRow(workload, unit string, lowerBetter bool, vals map[string][]float64) {
	r := row{workload: workload, unit: unit, lowerBetter: lowerBetter, vals: map[string]float64{}}
	var line strings.Builder
	for _, s := range b.servers {
		r.vals[s.name] = median(vals[s.name])
		fmt.Fprintf(&line, "  %s %.4g %v", s.name, r.vals[s.name], vals[s.name])
	}
	b.rows = append(b.rows, r)
	fmt.Fprintf(os.Stderr, "bench: %-34s %s:%s\n", workload, unit, line.String())
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

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratios are the speed-up columns: numerator and denominator registries.
var ratios = [][2]string{{berthOnName, distName}, {berthOnName, berthOffName}, {berthOffName, distName}, {berthOnName, ggcrName}}

func printTable(w *os.File, names []string, rows []row) {
	var b strings.Builder
	b.WriteString("| workload | unit |")
	for _, n := range names {
		b.WriteString(" " + n + " |")
	}
	var rs [][2]string
	for _, r := range ratios {
		if slices.Contains(names, r[0]) && slices.Contains(names, r[1]) {
			rs = append(rs, r)
			fmt.Fprintf(&b, " %s vs %s |", r[0], r[1])
		}
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(names)+len(rs)) + "\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s |", r.workload, r.unit)
		for _, n := range names {
			b.WriteString(" " + format(r.vals[n]) + " |")
		}
		for _, q := range rs {
			a, d := r.vals[q[0]], r.vals[q[1]]
			if r.lowerBetter {
				a, d = d, a
			}
			if d > 0 && a > 0 {
				fmt.Fprintf(&b, " %.2f× |", a/d)
			} else {
				b.WriteString(" - |")
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprint(w, b.String())
}

func format(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}
