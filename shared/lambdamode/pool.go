package lambdamode

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"
)

// Pool runs one function in execution environments that it starts on
// demand, as Lambda scales a function out: an invocation takes an idle
// environment, or starts a new one (a cold start) while fewer than max
// run, or waits for one to come free. It implements gateway.Invoker.
type Pool struct {
	fn        Function
	rie       string
	bootstrap string
	env       []string
	logs      io.Writer

	slots chan struct{} // one per environment that may run
	mu    sync.Mutex
	idle  []*instance
	all   map[*instance]bool
	cold  []time.Duration // init durations, in start order
}

func newPool(fn Function, rie, bootstrap string, env []string, max int, logs io.Writer) *Pool {
	return &Pool{fn: fn, rie: rie, bootstrap: bootstrap, env: env, logs: logs,
		slots: make(chan struct{}, max), all: map[*instance]bool{}}
}

// Function is the function the pool runs, as the stack configures it.
func (p *Pool) Function() Function { return p.fn }

// Command is how the emulator starts the pool's function: its bootstrap
// and environment (the cold-start benchmark also starts it without the
// emulator, scripts/coldstart).
func (p *Pool) Command() (bootstrap string, env []string) {
	return p.bootstrap, slices.Clone(p.env)
}

// Invoke runs one invocation with a JSON payload and returns the
// function's JSON response. A failed invocation is a *FunctionError.
func (p *Pool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	in, err := p.take(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	out, err := in.call(ctx, payload)
	if errors.Is(err, errBroken) {
		p.discard(in)
	} else {
		p.give(in)
	}
	<-p.slots
	return out, err
}

// take returns an idle environment, or starts one.
func (p *Pool) take(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		in := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return in, nil
	}
	p.mu.Unlock()
	in, err := startInstance(ctx, p.rie, p.bootstrap, p.fn, p.env, p.logs)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.all[in] = true
	p.mu.Unlock()
	go func() {
		// Lambda reports the init duration of each cold start.
		if d, ok := in.initDuration(); ok {
			p.mu.Lock()
			p.cold = append(p.cold, d)
			p.mu.Unlock()
		}
	}()
	return in, nil
}

func (p *Pool) give(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, in)
}

func (p *Pool) discard(in *instance) {
	p.mu.Lock()
	delete(p.all, in)
	p.mu.Unlock()
	in.close()
}

// ColdStarts returns the init duration of every environment the pool
// started so far.
func (p *Pool) ColdStarts() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.cold...)
}

// Close ends every environment.
func (p *Pool) Close() {
	p.mu.Lock()
	all := p.all
	p.all, p.idle = map[*instance]bool{}, nil
	p.mu.Unlock()
	for in := range all {
		in.close()
	}
}
