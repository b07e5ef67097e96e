package main

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/lambdamode"
)

// stubStarts times each pool's function starting without the emulator:
// its bootstrap, with the environment the emulator gives it (less
// GODEBUG: the inittrace lines are the other columns'), run against a
// stub runtime API, from exec to its first GET
// /2018-06-01/runtime/invocation/next — the end of what the emulator
// reports as INIT. The stub answers 500, on which the runtime exits.
// The emulator's own work and its log pipe are not in it, so it tells
// apart functions whose Init Durations differ by less than the
// emulator's run-to-run spread. runs rounds, each starting every
// function once, in order; the times are in milliseconds.
func stubStarts(pools []*lambdamode.Pool, runs int) ([][]float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	next := make(chan time.Time, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/runtime/invocation/next") {
			select {
			case next <- time.Now():
			default:
			}
		}
		w.WriteHeader(http.StatusInternalServerError)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	out := make([][]float64, len(pools))
	for range runs {
		for i, p := range pools {
			d, err := stubStart(p, ln.Addr().String(), next)
			if err != nil {
				return nil, err
			}
			out[i] = append(out[i], d)
		}
	}
	return out, nil
}

// stubStart starts p's function once against the stub runtime API at
// addr, whose handler sends on next when the function asks for an
// invocation.
func stubStart(p *lambdamode.Pool, addr string, next <-chan time.Time) (float64, error) {
	bootstrap, env := p.Command()
	kept := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			kept = append(kept, kv)
		}
	}
	cmd := exec.Command(bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = append(kept, "AWS_LAMBDA_RUNTIME_API="+addr)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Wait() }()
	select {
	case t := <-next:
		return ms(t.Sub(start)), nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return 0, fmt.Errorf("%s asked for no invocation within 10s of its start", p.Function().Name)
	}
}
