// Package race is Berth's race suite. It fires requests that conflict —
// two commits of one upload session, a commit and a cancel, a direct
// upload's verification and its cancel, two chunks at one offset, first
// writes of one immutable tag, a manifest push against retention and
// garbage collection, a mount against a delete, a restore against
// garbage collection, a heal against a mount and garbage collection, a
// scrub's quarantine against a push of the true bytes — through the local gateway, on the embedded and
// the aws backend (dynalite and gofakes3), many times each. After every
// iteration it pulls what the requests left and checks the invariants
// that docs/storage.md states for each state machine: every digest that
// answers serves bytes that hash to it, in every repository that links
// it; a session commits at most once; a cancel either wins (nothing
// left) or loses with the spec's error; the loser of a race gets the
// spec's error, never a 500.
//
// Each pair runs BERTH_RACE_ITERATIONS times (default 200) on a fresh
// registry per backend, and logs how often each outcome happened (run
// with -v to see the counts). The aws backend skips without dynalite,
// except with CI=true, where it fails.
package race
