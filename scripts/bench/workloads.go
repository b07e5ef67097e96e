package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	bigLayers    = 5
	bigLayerSize = 4 << 20
	tag          = "latest"
)

// testImage is one input image with what a pull must find.
type testImage struct {
	repo   string
	img    v1.Image
	digest v1.Hash
	size   int64 // manifest bytes
	layers []v1.Hash
	bytes  int64 // layer bytes
}

// newImage builds an OCI image of layers with sizes, filled from a
// PRNG seeded by seed, and computes every digest up front so that the
// timed push does not hash its inputs.
func newImage(repo string, seed uint64, sizes []int) (testImage, error) {
	rng := mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 'b', 'e', 'n', 'c', 'h'})
	ti := testImage{repo: repo}
	var layers []v1.Layer
	for _, n := range sizes {
		b := make([]byte, n)
		_, _ = rng.Read(b)
		l := static.NewLayer(b, types.OCIUncompressedLayer)
		d, err := l.Digest()
		if err != nil {
			return ti, err
		}
		layers = append(layers, l)
		ti.layers = append(ti.layers, d)
		ti.bytes += int64(n)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		return ti, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return ti, err
	}
	if ti.digest, err = img.Digest(); err != nil {
		return ti, err
	}
	ti.img, ti.size = img, int64(len(raw))
	return ti, nil
}

// bigImages returns one 5 × 4 MiB image per repetition.
func bigImages(reps int) ([]testImage, error) {
	sizes := slices.Repeat([]int{bigLayerSize}, bigLayers)
	var out []testImage
	for i := range reps {
		ti, err := newImage("dev/bench/big-"+strconv.Itoa(i), uint64(i), sizes)
		if err != nil {
			return nil, err
		}
		out = append(out, ti)
	}
	return out, nil
}

// smallImages returns, per repetition, n images of one or two layers of
// 1–16 KiB, each in its own repository; every repetition has new content
// so that no push finds its blobs already stored.
func smallImages(reps, n int) ([][]testImage, error) {
	out := make([][]testImage, reps)
	for r := range reps {
		for i := range n {
			sizes := []int{1<<10 + i*300}
			if i%2 == 1 {
				sizes = append(sizes, 16<<10-i*100)
			}
			repo := fmt.Sprintf("dev/bench/small-%d-%d", r, i)
			ti, err := newImage(repo, uint64(1000+r*n+i), sizes)
			if err != nil {
				return nil, err
			}
			out[r] = append(out[r], ti)
		}
	}
	return out, nil
}

func (s *server) ref(repo string) (name.Reference, error) {
	return name.ParseReference(s.host+"/"+repo+":"+tag, name.Insecure)
}

func (s *server) options(ctx context.Context) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(s.transport)}
	if s.login != nil {
		opts = append(opts, remote.WithAuth(s.login))
	}
	return opts
}

func (s *server) push(ctx context.Context, ti testImage) error {
	ref, err := s.ref(ti.repo)
	if err != nil {
		return err
	}
	return remote.Write(ref, ti.img, s.options(ctx)...)
}

// pushBig pushes a big image and returns the seconds it took.
func pushBig(ctx context.Context, s *server, ti testImage) (float64, error) {
	start := time.Now()
	if err := s.push(ctx, ti); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

// pullBig pulls a big image, fetching its config and all layers in
// parallel and hashing every layer, and returns the seconds it took.
func pullBig(ctx context.Context, s *server, ti testImage) (float64, error) {
	start := time.Now()
	if err := s.pull(ctx, ti); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

func (s *server) pull(ctx context.Context, ti testImage) error {
	ref, err := s.ref(ti.repo)
	if err != nil {
		return err
	}
	img, err := remote.Image(ref, s.options(ctx)...)
	if err != nil {
		return err
	}
	if d, err := img.Digest(); err != nil || d != ti.digest {
		return fmt.Errorf("pulled manifest %v, want %v (%v)", d, ti.digest, err)
	}
	if _, err := img.RawConfigFile(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if len(layers) != len(ti.layers) {
		return fmt.Errorf("pulled %d layers, want %d", len(layers), len(ti.layers))
	}
	errs := make([]error, len(layers))
	var wg sync.WaitGroup
	for i, l := range layers {
		wg.Go(func() { errs[i] = checkLayer(l, ti.layers[i]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkLayer reads a layer's bytes and compares their sha256 with want.
func checkLayer(l v1.Layer, want v1.Hash) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return fmt.Errorf("layer %s: %w", want, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.Hex {
		return fmt.Errorf("layer %s read back as sha256:%s", want, got)
	}
	return nil
}

// pushSmall pushes every image in turn and returns the seconds it took.
func pushSmall(ctx context.Context, s *server, imgs []testImage) (float64, error) {
	start := time.Now()
	for _, ti := range imgs {
		if err := s.push(ctx, ti); err != nil {
			return 0, err
		}
	}
	return time.Since(start).Seconds(), nil
}

const manifestAccept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// hammer sends manifest requests by tag from n keep-alive clients for d
// and returns requests/s and the 99th percentile latency. Every response
// must be 200 with ti's digest and size; a GET's body must hash to that
// digest.
func hammer(ctx context.Context, s *server, method string, ti testImage, n int, d time.Duration) (float64, time.Duration, error) {
	authz, err := s.authorization(ctx, "repository:"+ti.repo+":pull")
	if err != nil {
		return 0, 0, err
	}
	tr := newTransport(n)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := "http://" + s.host + "/v2/" + ti.repo + "/manifests/" + tag
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	one := func() error {
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", manifestAccept)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		h := sha256.New()
		_, err = io.Copy(h, res.Body)
		switch {
		case err != nil:
			return err
		case res.StatusCode != http.StatusOK:
			return fmt.Errorf("%s %s: status %d", method, url, res.StatusCode)
		case res.Header.Get("Docker-Content-Digest") != ti.digest.String():
			return fmt.Errorf("%s %s: Docker-Content-Digest %q, want %s", method, url, res.Header.Get("Docker-Content-Digest"), ti.digest)
		case res.ContentLength != ti.size:
			return fmt.Errorf("%s %s: Content-Length %d, want %d", method, url, res.ContentLength, ti.size)
		case method == http.MethodGet && "sha256:"+hex.EncodeToString(h.Sum(nil)) != ti.digest.String():
			return fmt.Errorf("GET %s: body does not hash to %s", url, ti.digest)
		}
		return nil
	}
	// Warm up: open the n connections before the clock starts.
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := one(); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, 0, err
	}
	lat := make([][]time.Duration, n)
	start := time.Now()
	deadline := start.Add(d)
	for i := range n {
		wg.Go(func() {
			for t := time.Now(); t.Before(deadline) && ctx.Err() == nil; t = time.Now() {
				if err := one(); err != nil {
					cancel(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t))
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, 0, err
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return 0, 0, fmt.Errorf("%s %s: no request completed in %v", method, url, d)
	}
	slices.Sort(all)
	return float64(len(all)) / time.Since(start).Seconds(), all[len(all)*99/100], nil
}

// inProcess calls s's handler directly with manifest requests by tag for
// about d and returns requests per second of process CPU time and
// allocations per request. Responses are checked as hammer checks them.
func inProcess(ctx context.Context, s *server, method string, ti testImage, d time.Duration) (float64, float64, error) {
	url := "http://" + s.host + "/v2/" + ti.repo + "/manifests/" + tag
	authz, err := s.authorization(ctx, "repository:"+ti.repo+":pull")
	if err != nil {
		return 0, 0, err
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, err := cpuTime()
	if err != nil {
		return 0, 0, err
	}
	var n int64
	// The label (inproc=berth or inproc=ggcr) marks these calls in a
	// -cpuprofile.
	pprof.Do(ctx, pprof.Labels("inproc", s.name), func(ctx context.Context) {
		for deadline := time.Now().Add(d); time.Now().Before(deadline); n++ {
			if err = ctx.Err(); err != nil {
				return
			}
			req := httptest.NewRequestWithContext(ctx, method, url, nil)
			req.Header.Set("Accept", manifestAccept)
			req.Header.Set("User-Agent", "Go-http-client/1.1")
			if authz != "" {
				req.Header.Set("Authorization", authz)
			}
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, req)
			res := rec.Result()
			switch {
			case res.StatusCode != http.StatusOK:
				err = fmt.Errorf("%s %s: status %d", method, url, res.StatusCode)
			case res.Header.Get("Docker-Content-Digest") != ti.digest.String():
				err = fmt.Errorf("%s %s: Docker-Content-Digest %q, want %s", method, url, res.Header.Get("Docker-Content-Digest"), ti.digest)
			case method == http.MethodGet && digestOf(rec.Body.Bytes()) != ti.digest.String():
				err = fmt.Errorf("GET %s: body does not hash to %s", url, ti.digest)
			}
			if err != nil {
				return
			}
		}
	})
	if err != nil {
		return 0, 0, err
	}
	cpu1, err := cpuTime()
	if err != nil {
		return 0, 0, err
	}
	runtime.ReadMemStats(&after)
	return float64(n) / (cpu1 - cpu0).Seconds(), float64(after.Mallocs-before.Mallocs) / float64(n), nil
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
