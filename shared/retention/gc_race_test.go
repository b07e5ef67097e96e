package retention_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/registry/registrytest"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// testClock is a clock the test moves; the store and the collector read
// it, so touch times and cutoffs agree.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// TestGCIsSafeAgainstConcurrentPushes pushes images that reuse layers of
// images retention is deleting, while retention and garbage collection
// run over and over, then pulls and verifies every tagged image and
// checks that every blob link still has its object.
//
// Each round: (quiet) untag the previous round's images but one keeper,
// move the store's clock past the grace period and retention's "as of"
// two days on; (busy) pushers push images made of a layer of this round,
// a layer of two rounds ago (whose images retention deletes in this very
// round, so the collector is removing exactly what they reuse) and a
// layer of their own, while a loop runs retention and collection. Time
// stands still in the busy phase, as every request is far shorter than
// the grace period (the collector's one assumption).
func TestGCIsSafeAgainstConcurrentPushes(t *testing.T) {
	clock := &testClock{t: time.Now().UTC()}
	meta, err := local.OpenMetadata(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	meta.SetClock(clock.Now)
	objs, err := local.OpenObjects(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(meta, objs, registry.DefaultConfig(), registry.WithLogger(quiet))
	mux := http.NewServeMux()
	mux.Handle(local.ObjectPathPrefix, objs)
	mux.Handle("/", registrytest.Mux(reg))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	cfg := retention.DefaultConfig()
	cfg.Cooling, cfg.BinTTL, cfg.MaxDeleteShare, cfg.MaxDeleteCount, cfg.TestClock = 0, 0, 1, -1, true
	svc := retention.New(retention.Stores{Meta: meta, Ret: meta, Blobs: objs, Tenancies: meta}, cfg, quiet)
	svc.Now = clock.Now
	if err := meta.PutRetentionPolicy(t.Context(), store.RetentionPolicy{Tenancy: "dev", Name: store.GlobalPolicy, UntaggedDays: 1, Version: 1}); err != nil {
		t.Fatal(err)
	}

	const rounds, pushers, perPusher = 5, 3, 2
	pool := make([]v1.Layer, 2*rounds)
	for i := range pool {
		if pool[i], err = random.Layer(1024+int64(i), types.OCILayer); err != nil {
			t.Fatal(err)
		}
	}
	const repo = "dev/app"
	ref := func(tag string) name.Tag {
		r, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	pushed := map[string]v1.Hash{} // tag → digest of every image still tagged
	var prev []string
	asOf := clock.Now()
	var collected retention.Collection
	for r := range rounds {
		// Quiet phase.
		for i, tag := range prev {
			if i == 0 {
				continue // one keeper per round stays tagged to the end
			}
			if err := remote.Delete(ref(tag)); err != nil {
				t.Fatalf("untag %s: %v", tag, err)
			}
			delete(pushed, tag)
		}
		clock.Advance(2 * time.Hour)
		asOf = asOf.Add(48 * time.Hour)
		prev = nil

		// Busy phase.
		type result struct {
			tag string
			d   v1.Hash
			err error
		}
		results := make(chan result, pushers*perPusher)
		var wg sync.WaitGroup
		for p := range pushers {
			wg.Go(func() {
				for i := range perPusher {
					tag := fmt.Sprintf("r%d-p%d-%d", r, p, i)
					own, err := random.Layer(512, types.OCILayer)
					if err != nil {
						results <- result{tag: tag, err: err}
						continue
					}
					layers := []v1.Layer{pool[2*r+i%2], own}
					if r >= 2 {
						layers = append(layers, pool[2*(r-2)+(p+i)%2])
					}
					img, err := mutate.AppendLayers(empty.Image, layers...)
					if err == nil {
						err = remote.Write(ref(tag), img)
					}
					var d v1.Hash
					if err == nil {
						d, err = img.Digest()
					}
					results <- result{tag, d, err}
				}
			})
		}
		stop := make(chan struct{})
		loops := make(chan error, 1)
		go func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					if n >= 2 {
						loops <- nil
						return
					}
				default:
				}
				if _, err := svc.StartRun(t.Context(), retention.RunRequest{Tenancy: "dev", Confirm: true, AsOf: asOf}); err != nil {
					loops <- err
					return
				}
				c, err := svc.Collect(t.Context(), clock.Now())
				if err != nil {
					loops <- err
					return
				}
				collected.Links += c.Links
				collected.Blobs += c.Blobs
			}
		}()
		wg.Wait()
		close(stop)
		if err := <-loops; err != nil {
			t.Fatalf("round %d: retention or collection failed: %v", r, err)
		}
		close(results)
		for res := range results {
			if res.err != nil {
				t.Fatalf("round %d: push %s: %v", r, res.tag, res.err)
			}
			pushed[res.tag] = res.d
			prev = append(prev, res.tag)
		}
	}
	if collected.Blobs == 0 || collected.Links == 0 {
		t.Fatalf("the collector removed %d links and %d blobs: the race was never run", collected.Links, collected.Blobs)
	}
	for tag, want := range pushed {
		img, err := remote.Image(ref(tag))
		if err != nil {
			t.Fatalf("pull %s: %v", tag, err)
		}
		if got, _ := img.Digest(); got != want {
			t.Fatalf("%s is %s, want %s", tag, got, want)
		}
		if err := verify(img); err != nil {
			t.Fatalf("%s does not verify: %v", tag, err)
		}
	}
	links, err := meta.ListLinks(t.Context(), repo, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if _, err := objs.Stat(t.Context(), l.Key); err != nil {
			t.Errorf("link %s points at a missing object %s: %v", l.Digest, l.Key, err)
		}
	}
	t.Logf("%d tagged images verified; the collector removed %d links and %d blobs", len(pushed), collected.Links, collected.Blobs)
}

// verify reads an image's config and every layer, checking each against
// its digest.
func verify(img v1.Image) error {
	raw, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if want, err := img.ConfigName(); err != nil || digestOf(raw) != want.String() {
		return fmt.Errorf("config does not match its digest %v (%v)", want, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		want, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("layer %s: %w", want, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", want, err)
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() {
			return fmt.Errorf("layer %s has bytes of %s", want, got)
		}
	}
	return nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
