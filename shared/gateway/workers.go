package gateway

import (
	"sync/atomic"
	"time"
)

// workers runs invocations on goroutines that outlive them. Each
// invocation needs its own goroutine (so the gateway can answer at the
// integration timeout whatever the function does), and a fresh goroutine
// grows its stack anew on every request; reusing idle ones keeps grown
// stacks, as a warm Lambda keeps its process.
type workers struct {
	jobs chan func()
	idle atomic.Int32
}

// workerIdle is how long an idle worker waits for work before exiting.
const workerIdle = 30 * time.Second

func newWorkers() *workers { return &workers{jobs: make(chan func())} }

// run starts job on an idle worker, or on a new one if none is idle.
func (p *workers) run(job func()) {
	select {
	case p.jobs <- job:
		return
	default:
	}
	go p.work(job)
}

func (p *workers) work(job func()) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		job()
		p.idle.Add(1)
		t.Reset(workerIdle)
		select {
		case job = <-p.jobs:
			p.idle.Add(-1)
		case <-t.C:
			p.idle.Add(-1)
			return
		}
	}
}
