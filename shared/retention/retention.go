// Package retention applies image-retention policies (docs/architecture.md §5) and
// collects the blobs no image needs any more (§2).
//
// The rules are pure values with their own clock (Rule, Evaluate): given
// a repository's manifests, tags, pull statistics and pins, Evaluate
// decides which images go, keeping an index's children and a manifest's
// referrers with it, and which stay and why. The Service around it loads
// that input from the store, records every decision, moves deleted
// images to a recycle bin (restorable until it expires), and runs the
// mark-and-sweep collector. An hourly job (functions/retention, or
// Schedule inside `berth serve`) starts a run per tenancy and fans it
// out, one job per repository.
//
// The package imports no AWS SDK: the store interfaces stand for
// DynamoDB and S3, and a Dispatcher for the Lambda self-invocation.
package retention

import (
	"fmt"
	"strconv"
	"time"
)

// Config holds retention's tunables.
type Config struct {
	// Cooling is how long after a policy is created or changed runs only
	// report (BERTH_RETENTION_COOLING, default 6h).
	Cooling time.Duration
	// BinTTL is how long deleted images stay restorable
	// (BERTH_RETENTION_BIN, default 48h).
	BinTTL time.Duration
	// Grace is how long an unreferenced blob must go untouched before
	// the collector deletes it (BERTH_GC_GRACE, default 1h). It must
	// exceed the longest request (the functions' timeout): a push
	// touches what it reuses, and finishes within one request.
	Grace time.Duration
	// NoticeWindow is how far ahead a pull warns of a deletion
	// (BERTH_RETENTION_NOTICE, default 24h; 0 turns warnings off).
	NoticeWindow time.Duration
	// MaxDeleteShare and MaxDeleteCount are the circuit breaker's
	// default limits per repository and run (BERTH_RETENTION_MAX_SHARE,
	// default 0.5; BERTH_RETENTION_MAX_COUNT, default 1000; a share >= 1
	// or a negative count is no limit).
	MaxDeleteShare float64
	MaxDeleteCount int
	// TestClock lets runs take an asOf time: set by the composition
	// when the process runs on a test clock (BERTH_TEST_CLOCK=1,
	// shared/clock), for end-to-end tests only.
	TestClock bool
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{Cooling: 6 * time.Hour, BinTTL: 48 * time.Hour, Grace: time.Hour, NoticeWindow: 24 * time.Hour,
		MaxDeleteShare: 0.5, MaxDeleteCount: 1000}
}

// ConfigFromEnv reads the BERTH_RETENTION_* and BERTH_GC_GRACE
// variables over the defaults, failing on the first invalid one.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"BERTH_RETENTION_COOLING", &c.Cooling}, {"BERTH_RETENTION_BIN", &c.BinTTL},
		{"BERTH_GC_GRACE", &c.Grace}, {"BERTH_RETENTION_NOTICE", &c.NoticeWindow},
	}
	for _, d := range durations {
		if v := getenv(d.name); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x < 0 {
				return c, fmt.Errorf("%s must be a duration such as 6h, not %q", d.name, v)
			}
			*d.dst = x
		}
	}
	if v := getenv("BERTH_RETENTION_MAX_SHARE"); v != "" {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x <= 0 {
			return c, fmt.Errorf("BERTH_RETENTION_MAX_SHARE must be a fraction such as 0.5 (1 for no limit), not %q", v)
		}
		c.MaxDeleteShare = x
	}
	if v := getenv("BERTH_RETENTION_MAX_COUNT"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x == 0 {
			return c, fmt.Errorf("BERTH_RETENTION_MAX_COUNT must be a number of images (-1 for no limit), not %q", v)
		}
		c.MaxDeleteCount = x
	}
	return c, nil
}
