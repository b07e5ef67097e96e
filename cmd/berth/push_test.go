package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// writeTestArchive writes a `docker save` archive with one layer of
// size random-ish bytes.
func writeTestArchive(t *testing.T, file string, size int) {
	t.Helper()
	layer := bytes.Repeat([]byte("berth push test layer "), size/22+1)[:size]
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{digest.FromBytes(layer)}}})
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, m := range []struct {
		name string
		body []byte
	}{
		{"l1/layer.tar", layer},
		{"config.json", cfg},
		{"manifest.json", []byte(`[{"Config":"config.json","Layers":["l1/layer.tar"]}]`)},
	} {
		_ = tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(m.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPushCommand(t *testing.T) {
	url, token := registry(t)
	tm := newTerm(t)
	if _, err := tm.run(token, "login", url, "-u", "dev/admin", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "app.tar")
	writeTestArchive(t, archive, 6<<20)
	state := t.TempDir()
	digestLine := regexp.MustCompile(`(?m)^1: digest: sha256:[0-9a-f]{64}$`)

	tm.out.Reset()
	if err := tm.c.push(context.Background(), []string{"--state-dir", state, "--part-size", "5", archive, "dev/app:1"}); err != nil {
		t.Fatalf("berth push with the saved login: %v", err)
	}
	out := tm.out.String()
	if !digestLine.MatchString(out) || !strings.Contains(out, "Pushed") || !strings.Contains(out, "The push refers to") {
		t.Errorf("push output lacks the pushed blobs or digest line:\n%s", out)
	}

	host := strings.TrimPrefix(url, "http://")
	tm.out.Reset()
	tm.c.stdin = strings.NewReader(token + "\n")
	if err := tm.c.push(context.Background(), []string{"-u", "dev/admin", "--password-stdin", "--state-dir", state, archive, host + "/dev/other:1"}); err != nil {
		t.Fatalf("berth push naming the host, with -u: %v", err)
	}
	if !digestLine.MatchString(tm.out.String()) {
		t.Errorf("output:\n%s", tm.out.String())
	}

	for _, args := range [][]string{
		{archive, "dev/App:1"},
		{"--part-size", "1", archive, "dev/app:1"},
		{archive},
	} {
		var ue *usageError
		if err := tm.c.push(context.Background(), args); !isUsage(err, &ue) {
			t.Errorf("berth push %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}

func isUsage(err error, ue **usageError) bool {
	e, ok := err.(*usageError)
	*ue = e
	return ok
}

// syncWriter is an output the proxy's goroutine and the test share.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestProxyCommand(t *testing.T) {
	url, token := registry(t)
	tm := newTerm(t)
	if _, err := tm.run(token, "login", url, "-u", "dev/admin", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	var ue *usageError
	if err := tm.c.proxy(context.Background(), []string{"--listen", "0.0.0.0:5001"}); !isUsage(err, &ue) || !strings.Contains(ue.msg, "loopback") {
		t.Errorf("proxy on 0.0.0.0: %v, want a usage error about loopback", err)
	}

	out := &syncWriter{}
	tm.c.stdout, tm.c.stderr = out, out
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tm.c.proxy(ctx, []string{"--listen", "127.0.0.1:0"}) }()
	addr := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+) → `)
	var m []string
	for range 100 {
		if m = addr.FindStringSubmatch(out.String()); m != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m == nil {
		cancel()
		t.Fatalf("proxy did not print its address:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "docker push "+m[1]+"/dev/") {
		t.Errorf("proxy output lacks the docker push line:\n%s", out.String())
	}
	res, err := http.Get("http://" + m[1] + "/v2/dev/nothing/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("tags of a missing repository through the proxy: %d, want the registry's 404", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("proxy stopped with %v", err)
	}
}

func TestSplitHostAndLoopback(t *testing.T) {
	for in, want := range map[string][2]string{
		"dev/app:1":                {"", "dev/app:1"},
		"127.0.0.1:5000/dev/app":   {"127.0.0.1:5000", "dev/app"},
		"registry.example.com/a/b": {"registry.example.com", "a/b"},
		"localhost/dev/app":        {"localhost", "dev/app"},
		"app":                      {"", "app"},
	} {
		if h, r := splitHost(in); h != want[0] || r != want[1] {
			t.Errorf("splitHost(%q) = %q, %q; want %q, %q", in, h, r, want[0], want[1])
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:5001": true, "[::1]:5001": true, "localhost:5001": true, "0.0.0.0:5001": false, ":5001": false, "10.0.0.1:5001": false} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
