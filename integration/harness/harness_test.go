package harness

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-registry/berth/shared/config"
)

func TestParseSummary(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		out                     string
		passed, failed, skipped int
		wantErr                 bool
	}{
		{"one summary line → its counts", "building\nconformance: 787 passed, 0 failed, 12 skipped\n", 787, 0, 12, false},
		{"several summary lines → the last", "conformance: 1 passed, 2 failed, 3 skipped\nconformance: 4 passed, 5 failed, 6 skipped", 4, 5, 6, false},
		{"no summary line → error", "conformance.sh: go toolchain not found in PATH\n", 0, 0, 0, true},
		{"a count that overflows → error", "conformance: 99999999999999999999 passed, 0 failed, 0 skipped", 0, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, f, s, err := parseSummary(tc.out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if p != tc.passed || f != tc.failed || s != tc.skipped {
				t.Errorf("got %d passed, %d failed, %d skipped; want %d, %d, %d", p, f, s, tc.passed, tc.failed, tc.skipped)
			}
		})
	}
}

func TestStartServesTheRegistryThroughWrap(t *testing.T) {
	var seen atomic.Int64
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Add(1)
			h.ServeHTTP(w, r)
		})
	}
	host, l := Start(t, config.Config{Backend: "embedded", Data: t.TempDir(), Limits: true, PresignTTL: 15 * time.Minute}, Wrap(count))
	if l == nil || l.Stores == nil {
		t.Fatalf("Start returned no stores: %+v", l)
	}
	res, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("GET /v2/: %d %v, want 200 with Docker-Distribution-API-Version registry/2.0", res.StatusCode, res.Header)
	}
	if n := seen.Load(); n != 1 {
		t.Errorf("the wrapper saw %d requests, want 1", n)
	}
}

func TestLogsTail(t *testing.T) {
	var logs Logs
	if logs.Len() != 0 || logs.Tail(10) != "" {
		t.Fatalf("empty logs: Len %d, Tail %q", logs.Len(), logs.Tail(10))
	}
	fmt.Fprint(&logs, "abcdé") // é is two bytes
	for _, tc := range []struct {
		n    int
		want string
	}{
		{100, "abcdé"},
		{2, "…é"},
		{1, "…"}, // half of é is dropped, not shown as an invalid byte
	} {
		got := logs.Tail(tc.n)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("Tail(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if logs.Len() != 6 {
		t.Errorf("Len = %d, want 6", logs.Len())
	}
}
