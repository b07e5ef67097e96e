package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

var secret = []byte("0123456789abcdef0123")

func TestVerifyRefusesWhatWasNotSigned(t *testing.T) {
	body, now := []byte(`{"id":"x"}`), time.Now()
	h := Sign(secret, now, body)
	if err := Verify(secret, h, body, now, time.Minute); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for name, c := range map[string]struct {
		secret []byte
		header string
		body   string
		at     time.Time
	}{
		"another body":   {secret, h, `{"id":"y"}`, now},
		"another secret": {[]byte("nope"), h, string(body), now},
		"replayed later": {secret, h, string(body), now.Add(10 * time.Minute)},
		"no header":      {secret, "", string(body), now},
		"no v1":          {secret, "t=1", string(body), now},
	} {
		if err := Verify(c.secret, c.header, []byte(c.body), c.at, time.Minute); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

// The sender posts in order, retries an event the endpoint refuses, and
// acknowledges only what it delivered.
func TestSenderRetriesInOrder(t *testing.T) {
	m, err := local.OpenMetadata(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.EnableOutbox()
	ctx := context.Background()
	for _, tag := range []string{"a", "b", "c"} {
		ev := events.New(ctx, time.Now(), events.ManifestPushed, "dev", "dev/app", events.ManifestPushedData{Tags: []string{tag}})
		if err := m.PutManifest(events.With(ctx, ev), store.Manifest{Repo: "dev/app", Digest: digest.FromString(tag)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var got []string
	refuse := 2
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if Verify(secret, r.Header.Get(SignatureHeader), body, time.Now(), time.Minute) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if refuse > 0 {
			refuse--
			http.Error(w, "later", http.StatusBadGateway)
			return
		}
		var ev events.Event
		_ = json.Unmarshal(body, &ev)
		var d events.ManifestPushedData
		_ = json.Unmarshal(ev.Data, &d)
		got = append(got, d.Tags[0])
	}))
	defer srv.Close()
	s := New(m, srv.URL, secret, nil)
	s.Poll, s.MinBackoff, s.MaxBackoff = 5*time.Millisecond, 5*time.Millisecond, 20*time.Millisecond
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(rctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	// Until the three arrived and were acknowledged: the endpoint has an
	// event before the sender, whose ack follows the answer, knows it.
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		left, _ := m.PendingEvents(ctx, 10)
		if (n == 3 && len(left) == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Errorf("delivered %v, want a b c", got)
	}
	if left, _ := m.PendingEvents(ctx, 10); len(left) != 0 {
		t.Errorf("%d events left in the outbox", len(left))
	}
}
