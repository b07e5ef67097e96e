package integration

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/app"
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
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := config.Config{
		Backend:    "embedded",
		Data:       t.TempDir(),
		Limits:     true,
		PresignTTL: 15 * time.Minute,
	}
	l, err := app.NewLocal(context.Background(), cfg, logger)
	if err != nil {
		t.Fatalf("app.NewLocal: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.Close()
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: l.Gateway, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		// Close, not Shutdown: the test's requests are over, and Shutdown
		// would wait 5 s for connections that clients dialed but never
		// used (ggcr pings https and http at once).
		if err := srv.Close(); err != nil {
			t.Errorf("closing the registry's listener: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("closing the stores: %v", err)
		}
		if t.Failed() && logs.Len() > 0 {
			t.Logf("registry warnings and errors:\n%s", logs.Tail(16<<10))
		}
	})
	return ln.Addr().String()
}

// lockedBuffer is a log sink that the server's goroutines can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Len returns how many bytes were logged.
func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Tail returns at most the last n bytes logged.
func (b *lockedBuffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
