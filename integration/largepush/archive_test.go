package largepush

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/push"
)

// writeArchive writes a `docker save` archive (classic layout) of an
// image with one layer holding a file of size filler bytes, and returns
// the layer's diff ID.
func writeArchive(t *testing.T, file string, size int64, seed uint64) digest.Digest {
	t.Helper()
	layer := filepath.Join(filepath.Dir(file), "layer.tar")
	lf, err := os.Create(layer)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = writeTar(io.MultiWriter(lf, h), []tarEntry{{Name: "data.bin", Size: size, Seed: seed}})
	lf.Close()
	if err != nil {
		t.Fatal(err)
	}
	diffID := digest.NewDigest(digest.SHA256, h)
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{diffID}}})
	lf, err = os.Open(layer)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(layer)
	defer lf.Close()
	fi, _ := lf.Stat()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := newTarWriter(f)
	tw.add(t, "0001/layer.tar", fi.Size(), lf)
	tw.add(t, "config.json", int64(len(cfg)), bytes.NewReader(cfg))
	mf := []byte(`[{"Config":"config.json","RepoTags":["big:1"],"Layers":["0001/layer.tar"]}]`)
	tw.add(t, "manifest.json", int64(len(mf)), bytes.NewReader(mf))
	tw.close(t)
	return diffID
}

// pushArchive pushes file to repo:tag with plain progress output.
func pushArchive(t *testing.T, c *push.Client, file, repo string, state *push.StateDir) (digest.Digest, string, error) {
	t.Helper()
	img, err := push.Open(t.Context(), file, push.SourceOptions{State: state})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	var out bytes.Buffer
	bars := push.NewBars(&out, false)
	bars.Start()
	start := time.Now()
	d, err := push.Push(t.Context(), &push.Uploader{Client: c, State: state, Retries: 1}, img, push.Reference{Repo: repo, Tag: "1"}, bars)
	bars.Stop()
	t.Logf("push took %.1fs:\n%s", time.Since(start).Seconds(), out.String())
	if err == nil {
		img.Forget()
	}
	return d, out.String(), err
}

// TestBerthPushOf1GBArchive pushes a generated 1 GB docker-archive with
// berth push's uploader, then reads the layer back through the blob's
// redirect and checks both digests: the compressed blob's (what the
// manifest says) and the uncompressed tar's (the config's diff ID).
func TestBerthPushOf1GBArchive(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) { pushAndCheck(t, start(t, backend), "dev/big", 1000*mb) })
	}
}

// pushAndCheck pushes an archive with one layer of size bytes to repo:1
// with berth push's uploader, then reads the layer back through the
// blob's redirect and checks both its digests.
func pushAndCheck(t *testing.T, e *env, repo string, size int64) {
	dir := t.TempDir()
	file := filepath.Join(dir, "big.tar")
	diffID := writeArchive(t, file, size, 1)
	c := e.client(t)
	d, _, err := pushArchive(t, c, file, repo, &push.StateDir{Dir: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Do(t.Context(), "GET", "/v2/"+repo+"/manifests/1", nil, http.Header{"Accept": {"application/vnd.docker.distribution.manifest.v2+json"}}, repo)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if digest.FromBytes(body) != d {
		t.Fatalf("tag 1 is not the pushed manifest %s: %s", d, body)
	}
	var m struct {
		Layers []struct {
			Digest digest.Digest
			Size   int64
		}
	}
	if err := json.Unmarshal(body, &m); err != nil || len(m.Layers) != 1 || m.Layers[0].Size < size {
		t.Fatalf("manifest %s: want one layer of at least %d bytes", body, size)
	}
	gotBlob, gotDiff, n := readLayer(t, c, repo, m.Layers[0].Digest)
	if gotBlob != m.Layers[0].Digest || n != m.Layers[0].Size {
		t.Errorf("the stored layer has digest %s and %d bytes, want %s and %d", gotBlob, n, m.Layers[0].Digest, m.Layers[0].Size)
	}
	if gotDiff != diffID {
		t.Errorf("the layer gunzips to %s, want the diff ID %s", gotDiff, diffID)
	}
}

// layerSize reads the size of the one layer of repo:1.
func layerSize(t *testing.T, c *push.Client, repo string) int64 {
	t.Helper()
	res, err := c.Do(t.Context(), "GET", "/v2/"+repo+"/manifests/1", nil, http.Header{"Accept": {"application/vnd.docker.distribution.manifest.v2+json"}}, repo)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m struct{ Layers []struct{ Size int64 } }
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("manifest of %s: %v", repo, err)
	}
	return m.Layers[0].Size
}

// readLayer follows a blob's redirect and returns the digest of what
// storage serves, of its gunzipped content, and its size.
func readLayer(t *testing.T, c *push.Client, repo string, d digest.Digest) (digest.Digest, digest.Digest, int64) {
	t.Helper()
	res, err := c.Do(t.Context(), "GET", "/v2/"+repo+"/blobs/"+d.String(), nil, nil, repo)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("blob GET: %d, want 307", res.StatusCode)
	}
	res, err = http.Get(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	blob, plain := sha256.New(), sha256.New()
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var gerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		zr, err := gzip.NewReader(pr)
		if err == nil {
			_, err = io.Copy(plain, zr)
		}
		gerr = err
		_, _ = io.Copy(io.Discard, pr)
	}()
	n, err := io.Copy(io.MultiWriter(blob, pw), res.Body)
	pw.Close()
	wg.Wait()
	if err != nil || gerr != nil {
		t.Fatalf("reading the layer: %v, gunzip: %v", err, gerr)
	}
	return digest.NewDigest(digest.SHA256, blob), digest.NewDigest(digest.SHA256, plain), n
}

// TestInterruptedPushResumes breaks the connection to storage after a
// few parts, then pushes again: only the missing parts are sent, in the
// same upload session.
func TestInterruptedPushResumes(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := start(t, backend)
			dir := t.TempDir()
			file := filepath.Join(dir, "img.tar")
			writeArchive(t, file, 200*mb, 2)
			state := &push.StateDir{Dir: filepath.Join(dir, "state")}
			c := e.client(t)
			first := &partCounter{next: &dropAfter{n: 4}}
			c.Storage = &http.Client{Transport: first}
			if _, _, err := pushArchive(t, c, file, "dev/resume", state); err == nil || !strings.Contains(err.Error(), "connection dropped") {
				t.Fatalf("push over a dropping connection: %v, want it to fail", err)
			}
			if first.parts() != 4 {
				t.Fatalf("%d parts reached storage before the drop, want 4", first.parts())
			}
			c = e.client(t)
			second := &partCounter{next: c.Storage.Transport}
			c.Storage.Transport = second
			d, out, err := pushArchive(t, c, file, "dev/resume", state)
			if err != nil {
				t.Fatalf("resumed push: %v", err)
			}
			size := layerSize(t, e.client(t), "dev/resume")
			parts := int((size + push.DefaultPartSize - 1) / push.DefaultPartSize)
			if again := second.parts(); again != parts-4 {
				t.Errorf("the resumed push sent %d parts, want the %d missing of %d", again, parts-4, parts)
			}
			if n := e.count("POST /v2/dev/resume/blobs/uploads/?direct=1"); n != 1 {
				t.Errorf("%d direct sessions were started, want 1 (resumed, not restarted)", n)
			}
			if !strings.Contains(out, "Resuming at") || d == "" {
				t.Errorf("resumed push output lacks Resuming:\n%s", out)
			}
		})
	}
}

// TestTamperedPartPublishesNothing changes one byte of one part on its
// way to storage: the registry's verification refuses the blob, and
// neither the blob nor the image becomes visible.
func TestTamperedPartPublishesNothing(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := start(t, backend)
			dir := t.TempDir()
			file := filepath.Join(dir, "img.tar")
			writeArchive(t, file, 40*mb, 3)
			c := e.client(t)
			c.Storage = &http.Client{Transport: tamper{part: "2"}}
			_, _, perr := pushArchive(t, c, file, "dev/tampered", nil)
			if !push.IsCode(perr, "DIGEST_INVALID") {
				t.Fatalf("push with a tampered part: %v, want DIGEST_INVALID", perr)
			}
			res, err := e.client(t).Do(t.Context(), "GET", "/v2/dev/tampered/manifests/1", nil, nil, "dev/tampered")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("the image answers %d after the failed push, want 404", res.StatusCode)
			}
			// The error names the digest the layer should have had.
			_, want, ok := strings.Cut(perr.Error(), ", not ")
			want, _, _ = strings.Cut(want, ";")
			if !ok || !strings.HasPrefix(want, "sha256:") {
				t.Fatalf("the digest error %q does not name the expected digest", perr)
			}
			if ok, err := e.client(t).HasBlob(t.Context(), "dev/tampered", digest.Digest(want)); ok || err != nil {
				t.Errorf("layer %s is visible after the failed verification (%v)", want, err)
			}
		})
	}
}

// dropAfter is a transport whose connection drops after n part PUTs.
type dropAfter struct {
	n  int
	mu sync.Mutex
}

func (d *dropAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	d.mu.Lock()
	d.n--
	left := d.n
	d.mu.Unlock()
	if left < 0 {
		return nil, fmt.Errorf("connection dropped (test)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// tamper flips one byte of part `part` on its way to storage.
type tamper struct{ part string }

func (tp tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Query().Get("partNumber") == tp.part {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		b[len(b)/3] ^= 0x01
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultTransport.RoundTrip(r)
}
