package main

import (
	"math"
	"testing"
)

// TestInitMSCountsTheFunctionsPackagesOnly: the emulator is a Go
// program started with the same GODEBUG, so its own inittrace lines come
// first in the output; only the function's, from where the time since
// start goes back, count.
func TestInitMSCountsTheFunctionsPackagesOnly(t *testing.T) {
	out := `init internal/bytealg @0.005 ms, 0 ms clock, 0 bytes, 0 allocs
init runtime @0.019 ms, 0.40 ms clock, 0 bytes, 0 allocs
init net/http @1.2 ms, 0.30 ms clock, 9000 bytes, 90 allocs
START RequestId: 4e4a2458 Version: $LATEST
init internal/bytealg @0 ms, 0 ms clock, 0 bytes, 0 allocs
init runtime @0.020 ms, 0.050 ms clock, 0 bytes, 0 allocs
init main @2.1 ms, 0.25 ms clock, 64 bytes, 1 allocs
`
	ms, n := initMS(out)
	if n != 3 || math.Abs(ms-0.30) > 1e-9 {
		t.Fatalf("initMS = %.3f ms over %d packages, want 0.300 over 3 (the function's, not the emulator's)", ms, n)
	}
}
