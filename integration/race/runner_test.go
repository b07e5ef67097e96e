package race

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// racer is one request of a race.
type racer struct {
	name string
	fire func() response
}

// jittered delays f by a random time up to d, so that a request the
// gateway serves faster (less authorizer work, fewer reads) than its
// rival does not always reach the store first.
func jittered(d time.Duration, f func() response) func() response {
	return func() response {
		time.Sleep(rand.N(d))
		return f()
	}
}

// round is one iteration of a pair: the requests to fire at once, and
// the invariants to check afterwards (given what each answered).
type round struct {
	racers []racer
	check  func(rs []response) error
}

// pair is a set of conflicting requests; setup prepares iteration i
// (sequentially, before the race) and returns its round.
type pair struct {
	name  string
	setup func(t *testing.T, e *env, i int) round
}

// iterations is BERTH_RACE_ITERATIONS, default 200.
func iterations(t *testing.T) int {
	t.Helper()
	s := os.Getenv("BERTH_RACE_ITERATIONS")
	if s == "" {
		return 200
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("BERTH_RACE_ITERATIONS must be a positive number, not %q", s)
	}
	return n
}

// maxReported bounds the violations a pair prints in full.
const maxReported = 5

// run races p on every backend, each on a fresh registry, and logs how
// often each outcome happened. An iteration violates the invariants when
// a request answers 5xx (or not at all) or its check fails.
func run(t *testing.T, p pair) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := start(t, b)
			n := iterations(t)
			outcomes := map[string]int{}
			var violations []string
			for i := range n {
				r := p.setup(t, e, i)
				rs := fire(r.racers)
				var parts []string
				var bad []string
				for k, x := range rs {
					parts = append(parts, r.racers[k].name+"="+x.String())
					if x.err != nil || x.status >= 500 {
						bad = append(bad, fmt.Sprintf("%s answered %s %s", r.racers[k].name, x, x.body))
					}
				}
				key := strings.Join(parts, "  ")
				outcomes[key]++
				if err := r.check(rs); err != nil {
					bad = append(bad, err.Error())
				}
				if len(bad) > 0 {
					violations = append(violations, fmt.Sprintf("iteration %d (%s): %s", i, key, strings.Join(bad, "; ")))
				}
			}
			report(t, p.name, b, n, outcomes, violations)
		})
	}
}

// fire sends the racers' requests at once and returns their answers in
// order.
func fire(racers []racer) []response {
	out := make([]response, len(racers))
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i, r := range racers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			out[i] = r.fire()
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return out
}

// report logs a pair's outcome counts and fails t on violations.
func report(t *testing.T, name, backend string, n int, outcomes map[string]int, violations []string) {
	t.Helper()
	keys := make([]string, 0, len(outcomes))
	for k := range outcomes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return outcomes[keys[i]] > outcomes[keys[j]] })
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s: %d iterations, %d violating the invariants\n", name, backend, n, len(violations))
	for _, k := range keys {
		fmt.Fprintf(&b, "  %5d × %s\n", outcomes[k], k)
	}
	t.Log(b.String())
	for i, v := range violations {
		if i == maxReported {
			t.Errorf("... and %d more", len(violations)-maxReported)
			break
		}
		t.Error(v)
	}
}

// only reports which racers answered want.
func only(rs []response, want int) []int {
	var out []int
	for i, r := range rs {
		if r.status == want {
			out = append(out, i)
		}
	}
	return out
}
