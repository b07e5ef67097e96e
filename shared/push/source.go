package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Image is what a source gives to push: its blobs, some still to be
// prepared (compressed), and its manifests, known once they are.
type Image struct {
	// Blobs are the configs and layers, each pushed once.
	Blobs []*Pending
	// Manifests returns the manifests to push, children before the
	// index that lists them; the last one is the one tagged. It is
	// called after every blob is prepared.
	Manifests func() ([]Manifest, error)
	// Close releases the source's files.
	Close func() error
	// Forget removes what the source cached to resume (compressed
	// layers, a saved archive); called once the push succeeded.
	Forget func()
}

// Pending is a blob, ready or still to be prepared.
type Pending struct {
	// ID labels its progress bar (a short digest).
	ID string
	// Size is the size to show before preparing (uncompressed).
	Size int64
	// Blob is the blob (set by Prepare when that is not nil).
	Blob Blob
	// Prepare, when set, makes the blob (compressing a layer); it
	// reports progress on bar.
	Prepare func(ctx context.Context, bar *Bar) (Blob, error)
}

// Manifest is a manifest to push.
type Manifest struct {
	MediaType string
	Body      []byte
}

// Digest is the manifest's sha256 digest.
func (m Manifest) Digest() digest.Digest { return digest.FromBytes(m.Body) }

// SourceOptions say how a source prepares layers.
type SourceOptions struct {
	// Compression of uncompressed layers: "gzip" (the default) or
	// "none" (pushed as they are, with OCI's uncompressed media type).
	Compression string
	// State holds compressed layers and saved images between runs; nil
	// uses a temporary directory.
	State *StateDir
}

// Open opens an image source:
//
//	docker-archive:<file>   a `docker save` tar
//	oci:<dir>[:<ref>]       an OCI image layout (ref: its org.opencontainers.image.ref.name)
//	docker-daemon:<image>   an image in the local docker engine (via `docker save`)
//	<file> or <dir>         an existing tar file or OCI layout directory
//	<image>                 otherwise, an image in the local docker engine
func Open(ctx context.Context, src string, opts SourceOptions) (*Image, error) {
	kind, rest, _ := strings.Cut(src, ":")
	switch kind {
	case "docker-archive":
		return OpenArchive(rest, opts)
	case "oci":
		dir, ref, _ := strings.Cut(rest, ":")
		return OpenLayout(dir, ref)
	case "docker-daemon":
		return openDaemon(ctx, rest, opts)
	}
	if fi, err := os.Stat(src); err == nil {
		if fi.IsDir() {
			return OpenLayout(src, "")
		}
		return OpenArchive(src, opts)
	}
	return openDaemon(ctx, src, opts)
}

// openDaemon saves ref from the local docker engine (`docker save`, as
// the docker CLI reaches the engine: DOCKER_HOST, contexts) and opens
// the archive. The archive is kept in the state directory under the
// image's ID, so a resumed push does not save it again.
func openDaemon(ctx context.Context, ref string, opts SourceOptions) (*Image, error) {
	if _, err := exec.LookPath("docker"); err != nil {
		return nil, fmt.Errorf("%q is no file or directory, and there is no docker CLI to ask the engine for it", ref)
	}
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("docker image inspect %s: %s", ref, strings.TrimSpace(string(out)))
	}
	id := strings.TrimSpace(string(out))
	dir, cleanup, err := cacheDir(opts.State, "saved")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(ref + "\n" + id))
	path := filepath.Join(dir, hex.EncodeToString(sum[:12])+".tar")
	if _, err := os.Stat(path); err != nil {
		tmp := path + ".tmp"
		if out, err := exec.CommandContext(ctx, "docker", "save", "-o", tmp, ref).CombinedOutput(); err != nil {
			os.Remove(tmp)
			cleanup()
			return nil, fmt.Errorf("docker save %s: %s", ref, strings.TrimSpace(string(out)))
		}
		if err := os.Rename(tmp, path); err != nil {
			cleanup()
			return nil, err
		}
	}
	img, err := OpenArchive(path, opts)
	if err != nil {
		cleanup()
		return nil, err
	}
	inner, forget := img.Close, img.Forget
	img.Close = func() error {
		err := inner()
		cleanup()
		return err
	}
	img.Forget = func() {
		forget()
		os.Remove(path) // pushed: the saved copy is not needed to resume
	}
	return img, nil
}

// cacheDir returns the state's directory of a kind, or a temporary one
// and a function removing it.
func cacheDir(st *StateDir, kind string) (string, func(), error) {
	if st != nil {
		d, err := st.Cache(kind)
		return d, func() {}, err
	}
	d, err := os.MkdirTemp("", "berth-push-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// short is the 12 hex digits docker shows of a digest.
func short(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}
