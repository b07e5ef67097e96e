package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand"
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
	"github.com/opencontainers/go-digest"
)

const kib = 1 << 10

// layer returns a reproducible random layer.
func layer(t testing.TB, seed int64, size int64) v1.Layer {
	t.Helper()
	l, err := random.Layer(size, types.DockerLayer, random.WithSource(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// randomImage returns an image of n reproducible 1 MiB layers.
func randomImage(t testing.TB, seed int64, n int) v1.Image {
	t.Helper()
	var ls []v1.Layer
	for i := range n {
		ls = append(ls, layer(t, seed*1000+int64(i), 1<<20))
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func ref(t testing.TB, host, repo, tag string) name.Tag {
	t.Helper()
	r, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustHash(t testing.TB, f func() (v1.Hash, error)) v1.Hash {
	t.Helper()
	h, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestConcurrentOverlappingPushes pushes 50 images at once through the
// gateway on the aws backend: every image shares three base layers, one
// of five middle layers and a repository and tag with others (2
// repositories x 5 tags), and has a layer and a tag of its own. Then
// every tag resolves to a complete image whose blobs all exist and
// verify, each shared tag to one of the images pushed to it, each own
// tag to its own image; every blob record points at an object of its
// size, and no object is left that no record points at (the losers of
// a commit race removed theirs).
func TestConcurrentOverlappingPushes(t *testing.T) {
	if testing.Short() {
		t.Skip("50 concurrent pushes are skipped under -short")
	}
	e := startAWS(t, false)
	const pushers = 50
	repos := []string{"race/app", "race/other"}
	tags := []string{"latest", "stable", "v1", "v2", "edge"}
	base := []v1.Layer{layer(t, 1, 128*kib), layer(t, 2, 64*kib), layer(t, 3, 512*kib)}
	var middle []v1.Layer
	for i := range 5 {
		middle = append(middle, layer(t, int64(10+i), 32*kib))
	}
	imgs := make([]v1.Image, pushers)
	for i := range imgs {
		layers := append(append([]v1.Layer{}, base...), middle[i%len(middle)], layer(t, int64(100+i), 16*kib))
		img, err := mutate.AppendLayers(empty.Image, layers...)
		if err != nil {
			t.Fatal(err)
		}
		imgs[i] = img
	}
	repoOf := func(i int) string { return repos[i%len(repos)] }
	tagOf := func(i int) string { return tags[(i/len(repos))%len(tags)] }

	start := make(chan struct{})
	errs := make([]error, pushers)
	var wg sync.WaitGroup
	for i := range pushers {
		wg.Go(func() {
			<-start
			if err := remote.Write(ref(t, e.host, repoOf(i), tagOf(i)), imgs[i]); err != nil {
				errs[i] = fmt.Errorf("push %d to %s:%s: %w", i, repoOf(i), tagOf(i), err)
				return
			}
			if err := remote.Write(ref(t, e.host, repoOf(i), fmt.Sprintf("own-%02d", i)), imgs[i]); err != nil {
				errs[i] = fmt.Errorf("push %d to its own tag: %w", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent pushes failed:\n%v", err)
	}
	t.Logf("after the pushes: %s", e.stores.Calls.Snapshot())

	// Every tag resolves to a complete, verifying image of its pushers.
	pushedTo := map[string][]v1.Hash{}
	for i, img := range imgs {
		k := repoOf(i) + ":" + tagOf(i)
		pushedTo[k] = append(pushedTo[k], mustHash(t, img.Digest))
		pushedTo[fmt.Sprintf("%s:own-%02d", repoOf(i), i)] = []v1.Hash{mustHash(t, img.Digest)}
	}
	for k, candidates := range pushedTo {
		r, err := name.NewTag(e.host+"/"+k, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(r)
		if err != nil {
			t.Errorf("pull %s: %v", k, err)
			continue
		}
		if d := mustHash(t, img.Digest); !contains(candidates, d) {
			t.Errorf("%s resolves to %s, which was never pushed to it", k, d)
		}
		if err := verify(img); err != nil {
			t.Errorf("%s is not a complete, verifying image: %v", k, err)
		}
	}

	// Every blob has one record pointing at an object of its size, and
	// every object under blobs/ is some record's.
	ctx := t.Context()
	keys := map[string]bool{}
	for i, img := range imgs {
		var blobs []v1.Hash
		blobs = append(blobs, mustHash(t, img.ConfigName))
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			blobs = append(blobs, mustHash(t, l.Digest))
		}
		for _, h := range blobs {
			d := digest.Digest(h.String())
			b, err := e.stores.Meta.GetBlob(ctx, d)
			if err != nil {
				t.Fatalf("blob %s of image %d: %v", d, i, err)
			}
			if _, err := e.stores.Meta.GetLink(ctx, repoOf(i), d); err != nil {
				t.Fatalf("blob %s is not linked in %s: %v", d, repoOf(i), err)
			}
			size, err := e.stores.S3.Stat(ctx, b.Key)
			if err != nil || size != b.Size {
				t.Fatalf("blob %s: object %s has size %d (%v), record says %d", d, b.Key, size, err, b.Size)
			}
			keys[b.Key] = true
		}
	}
	objs, err := e.stores.S3.Objects(ctx, "blobs/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !keys[o.Key] {
			t.Errorf("object %s is no blob record's (a lost commit race left it)", o.Key)
		}
	}
	if len(objs) != len(keys) {
		t.Errorf("%d objects under blobs/, want one per distinct blob: %d", len(objs), len(keys))
	}
	// Commits delete their tails and complete their multipart uploads.
	// Only a request that failed (under load, one the gateway timed out
	// and the client retried) may leave its session's; the sweep removes
	// those once the session expires.
	left, err := e.stores.S3.Multiparts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	tails, err := e.stores.S3.Objects(ctx, "uploads/")
	if err != nil {
		t.Fatal(err)
	}
	if len(left)+len(tails) > 0 {
		if e.logs.Len() == 0 {
			t.Errorf("every request succeeded, yet %d multipart uploads and %d tails are left", len(left), len(tails))
		}
		t.Logf("%d multipart uploads and %d tails left by failed requests; sweeping", len(left), len(tails))
		if _, err := e.stores.SweepUploads(ctx, time.Now().Add(25*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if mps, tails := e.pending(t); len(mps)+len(tails) > 0 {
			t.Errorf("after sweeping: multiparts %q, tails %q", mps, tails)
		}
	}
}

func contains(hs []v1.Hash, h v1.Hash) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

// verify fetches an image's config and every layer and checks each
// against its digest and size, as a pulling client does.
func verify(img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if got := sum(raw); got != m.Config.Digest.Hex || int64(len(raw)) != m.Config.Size {
		return fmt.Errorf("config %s: got sha256 %s, %d bytes", m.Config.Digest, got, len(raw))
	}
	for _, desc := range m.Layers {
		l, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			return fmt.Errorf("layer %s: %w", desc.Digest, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("layer %s: %w", desc.Digest, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", desc.Digest, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != desc.Digest.Hex || n != desc.Size {
			return fmt.Errorf("layer %s: got sha256 %s, %d bytes, want %d", desc.Digest, got, n, desc.Size)
		}
	}
	return nil
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
