// Package integration holds Berth's end-to-end tests: real clients
// (go-containerregistry, the OCI conformance suite) against the whole
// registry started in-process the way `make run` starts it — the local
// gateway enforcing AWS's limits, every function, embedded storage — but
// anonymous, on a real 127.0.0.1 listener.
package integration
