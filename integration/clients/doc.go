// Package clients drives the registry clients people use — docker,
// containerd's ctr (what a Kubernetes node does), skopeo, crane, oras and
// regctl — against the whole registry started in-process (the local
// gateway, every function, embedded storage) on a 127.0.0.1 port.
//
// The tools come from scripts/ci-clients.sh, which installs them, starts
// dockerd and containerd, and writes the environment to source. A test
// whose tool is missing skips and names it; with CI=true it fails.
// Assertions check digests and content, not only exit codes.
package clients
