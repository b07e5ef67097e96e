package push_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/push"
)

func TestPushArchiveCompressesAndUploadsDirect(t *testing.T) {
	for _, classic := range []bool{true, false} {
		t.Run(map[bool]string{true: "classic layout", false: "docker 25 layout"}[classic], func(t *testing.T) {
			reg := startRegistry(t)
			big := tarOf(t, "big.bin", randBytes(13*mib, 1))
			small := tarOf(t, "hello", []byte("hello"))
			file := filepath.Join(t.TempDir(), "image.tar")
			writeArchive(t, file, [][]byte{big, small}, classic)
			img, err := push.Open(t.Context(), file, push.SourceOptions{State: &push.StateDir{Dir: t.TempDir()}})
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			c := reg.client(t)
			up := &push.Uploader{Client: c, PartSize: 5 * mib, Parallel: 3}
			var out bytes.Buffer
			bars := push.NewBars(&out, false)
			bars.Start()
			d, err := push.Push(t.Context(), up, img, push.Reference{Repo: "dev/app", Tag: "v1"}, bars)
			bars.Stop()
			if err != nil {
				t.Fatalf("push: %v\n%s", err, out.String())
			}

			body, _ := get(t, c, "dev/app", "/v2/dev/app/manifests/v1")
			if got := digest.FromBytes(body); got != d {
				t.Errorf("manifest tagged v1 is %s, push said %s", got, d)
			}
			var m oci.Manifest
			if err := json.Unmarshal(body, &m); err != nil || m.MediaType != oci.MediaTypeDockerManifest || len(m.Layers) != 2 {
				t.Fatalf("manifest %s: want a docker v2 manifest with 2 layers (%v)", body, err)
			}
			for i, want := range [][]byte{big, small} {
				blob, _ := get(t, c, "dev/app", "/v2/dev/app/blobs/"+m.Layers[i].Digest.String())
				zr, err := gzip.NewReader(bytes.NewReader(blob))
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("layer %d gunzips to %d bytes (%v), want the %d-byte tar", i, len(got), err, len(want))
				}
			}
			if n := reg.count("PUT /_berth/objects/blobs/", "partNumber=", " 200"); n != 3 {
				t.Errorf("%d part PUTs went to storage, want 3 (a 13 MiB layer in 5 MiB parts)", n)
			}
			for _, want := range []string{"Compressing", "Pushing", "Pushed", "Total: "} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("progress output lacks %q:\n%s", want, out.String())
				}
			}

			out.Reset()
			if _, err := push.Push(t.Context(), up, img, push.Reference{Repo: "dev/app", Tag: "v2"}, push.NewBars(&out, false)); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(out.String(), "Layer already exists"); n != 3 {
				t.Errorf("second push: %d blobs already existed, want 3:\n%s", n, out.String())
			}
		})
	}
}

func TestInterruptedUploadResumesWithoutResendingParts(t *testing.T) {
	reg := startRegistry(t)
	data := randBytes(23*mib, 2)
	b := blobOf(data)
	state := &push.StateDir{Dir: t.TempDir()}

	c := reg.client(t)
	c.Storage = &http.Client{Transport: &failingStorage{after: 2}}
	up := &push.Uploader{Client: c, PartSize: 5 * mib, Parallel: 1, State: state, Retries: 1}
	if err := up.Upload(t.Context(), "dev/big", b, nil); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("upload over a failing connection: %v, want the connection error", err)
	}
	sent := reg.count("PUT /_berth/objects/", " 200")
	if sent != 2 {
		t.Fatalf("%d parts stored before the failure, want 2", sent)
	}

	c2 := reg.client(t)
	up2 := &push.Uploader{Client: c2, PartSize: 5 * mib, Parallel: 2, State: state}
	if err := up2.Upload(t.Context(), "dev/big", b, nil); err != nil {
		t.Fatalf("resumed upload: %v", err)
	}
	if n := reg.count("PUT /_berth/objects/", " 200") - sent; n != 3 {
		t.Errorf("the resumed upload sent %d parts, want the 3 missing of 5", n)
	}
	if n := reg.count("POST /v2/dev/big/blobs/uploads/"); n != 1 {
		t.Errorf("%d upload sessions started, want 1 (resumed, not restarted)", n)
	}
	got, _ := get(t, c2, "dev/big", "/v2/dev/big/blobs/"+b.Digest.String())
	if !bytes.Equal(got, data) {
		t.Error("resumed blob differs from the data")
	}
	if files, _ := filepath.Glob(filepath.Join(state.Dir, "uploads", "*")); len(files) != 0 {
		t.Errorf("state files left after the upload finished: %v", files)
	}
}

func TestTamperedPartEndsInDigestErrorAndNothingVisible(t *testing.T) {
	reg := startRegistry(t)
	data := randBytes(12*mib, 3)
	b := blobOf(data)
	c := reg.client(t)
	c.Storage = &http.Client{Transport: tamperingStorage{part: "2"}}
	up := &push.Uploader{Client: c, PartSize: 5 * mib}
	err := up.Upload(t.Context(), "dev/big", b, nil)
	if !push.IsCode(err, "DIGEST_INVALID") {
		t.Fatalf("upload with a tampered part: %v, want DIGEST_INVALID", err)
	}
	if ok, err := c.HasBlob(t.Context(), "dev/big", b.Digest); ok || err != nil {
		t.Errorf("blob visible after a failed verification (%v, %v)", ok, err)
	}
}

func TestPushOCILayoutKeepsIndexDigest(t *testing.T) {
	reg := startRegistry(t)
	dir := t.TempDir()
	write := func(b []byte) oci.Descriptor {
		d := digest.FromBytes(b)
		p := filepath.Join(dir, "blobs", "sha256", d.Encoded())
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return oci.Descriptor{Digest: d, Size: int64(len(b))}
	}
	var children []oci.Descriptor
	for i, arch := range []string{"amd64", "arm64"} {
		cfg := write([]byte(`{"architecture":"` + arch + `","os":"linux"}`))
		cfg.MediaType = "application/vnd.oci.image.config.v1+json"
		layer := write(randBytes(6*mib+i, uint64(10+i)))
		layer.MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
		body, _ := json.Marshal(oci.Manifest{SchemaVersion: 2, MediaType: oci.MediaTypeImageManifest, Config: &cfg, Layers: []oci.Descriptor{layer}})
		m := write(body)
		m.MediaType, m.Platform = oci.MediaTypeImageManifest, &oci.Platform{OS: "linux", Architecture: arch}
		children = append(children, m)
	}
	ibody, _ := json.Marshal(oci.Manifest{SchemaVersion: 2, MediaType: oci.MediaTypeImageIndex, Manifests: children})
	idx := write(ibody)
	idx.MediaType = oci.MediaTypeImageIndex
	idx.Annotations = map[string]string{"org.opencontainers.image.ref.name": "multi"}
	top, _ := json.Marshal(oci.Manifest{SchemaVersion: 2, MediaType: oci.MediaTypeImageIndex, Manifests: []oci.Descriptor{idx}})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), top, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}

	img, err := push.Open(t.Context(), "oci:"+dir+":multi", push.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := reg.client(t)
	d, err := push.Push(t.Context(), &push.Uploader{Client: c, PartSize: 5 * mib}, img, push.Reference{Repo: "dev/multi", Tag: "1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d != idx.Digest {
		t.Errorf("pushed index %s, want the layout's %s", d, idx.Digest)
	}
	if body, _ := get(t, c, "dev/multi", "/v2/dev/multi/manifests/1"); digest.FromBytes(body) != idx.Digest {
		t.Errorf("tag 1 holds another manifest than the layout's index")
	}
}

func TestParseReference(t *testing.T) {
	d := digest.FromString("x")
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{in: "dev/app", want: "dev/app:latest"},
		{in: "dev/app:v1.2", want: "dev/app:v1.2"},
		{in: "dev/team/app@" + d.String(), want: "dev/team/app@" + d.String()},
		{in: "dev/App:v1", err: true},
		{in: "dev/app:-bad", err: true},
		{in: "dev/app@sha256:short", err: true},
	} {
		r, err := push.ParseReference(tc.in)
		if (err != nil) != tc.err || (!tc.err && r.String() != tc.want) {
			t.Errorf("ParseReference(%q) = %q, %v; want %q (error %v)", tc.in, r.String(), err, tc.want, tc.err)
		}
	}
}

// blobOf is data as a blob to upload.
func blobOf(data []byte) push.Blob {
	return push.Blob{Digest: digest.FromBytes(data), Size: int64(len(data)), MediaType: "application/octet-stream",
		Open: func() (push.ReadAtCloser, error) { return nopCloser{bytes.NewReader(data)}, nil }}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
