package integration

import (
	"testing"
	"time"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/config"
)

// startRegistry starts the whole registry in-process as `make run` does
// (embedded backend in a temporary directory, AWS limits enforced), but
// anonymous (the zero Config has authentication off), on a random
// 127.0.0.1 port, stops it when the test ends, and returns its
// host:port. Warnings and errors the registry logs are shown if the test
// fails.
func startRegistry(t testing.TB) string {
	t.Helper()
	host, _ := harness.Start(t, config.Config{
		Backend:    "embedded",
		Data:       t.TempDir(),
		Limits:     true,
		PresignTTL: 15 * time.Minute,
	})
	return host
}
