package push

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/oci"
)

// refAnnotation names an image in an OCI layout's index.json.
const refAnnotation = "org.opencontainers.image.ref.name"

// OpenLayout opens an OCI image layout directory: the image its
// index.json lists (the one named ref when it lists several), pushed as
// it is — manifests and blobs keep their digests, an index keeps its
// platforms.
func OpenLayout(dir, ref string) (*Image, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout: %w", dir, err)
	}
	var idx oci.Manifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s/index.json: %w", dir, err)
	}
	var picked []oci.Descriptor
	for _, d := range idx.Manifests {
		if ref == "" || d.Annotations[refAnnotation] == ref {
			picked = append(picked, d)
		}
	}
	switch {
	case len(picked) == 0 && ref != "":
		return nil, fmt.Errorf("%s holds no image named %q", dir, ref)
	case len(picked) != 1:
		return nil, fmt.Errorf("%s holds %d images; name one with oci:%s:<ref>", dir, len(picked), dir)
	}
	l := &layout{dir: dir, seen: map[digest.Digest]bool{}}
	if err := l.walk(picked[0], 0); err != nil {
		return nil, err
	}
	img := &Image{Blobs: l.blobs, Close: func() error { return nil }, Forget: func() {}}
	img.Manifests = func() ([]Manifest, error) { return l.manifests, nil }
	return img, nil
}

// layout collects what one descriptor of a layout references.
type layout struct {
	dir       string
	blobs     []*Pending
	manifests []Manifest
	seen      map[digest.Digest]bool
}

func (l *layout) path(d digest.Digest) string {
	return filepath.Join(l.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// walk adds the manifest d and what it references, children first.
func (l *layout) walk(d oci.Descriptor, depth int) error {
	if depth > 4 {
		return fmt.Errorf("indexes nest deeper than 4 levels")
	}
	if err := d.Digest.Validate(); err != nil {
		return err
	}
	body, err := os.ReadFile(l.path(d.Digest))
	if err != nil {
		return fmt.Errorf("the layout lacks manifest %s: %w", d.Digest, err)
	}
	if got := d.Digest.Algorithm().FromBytes(body); got != d.Digest {
		return fmt.Errorf("manifest %s has digest %s", d.Digest, got)
	}
	m, mt, err := oci.ParseManifest(d.MediaType, body)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	for _, child := range m.Manifests {
		if err := l.walk(child, depth+1); err != nil {
			return err
		}
	}
	var blobs []oci.Descriptor
	if m.Config != nil {
		blobs = append(blobs, *m.Config)
	}
	blobs = append(blobs, m.Layers...)
	for _, b := range blobs {
		if l.seen[b.Digest] || oci.NonDistributable(b.MediaType) {
			continue
		}
		l.seen[b.Digest] = true
		file := l.path(b.Digest)
		fi, err := os.Stat(file)
		if err != nil {
			return fmt.Errorf("the layout lacks blob %s: %w", b.Digest, err)
		}
		if fi.Size() != b.Size {
			return fmt.Errorf("blob %s has %d bytes, not %d as its manifest says", b.Digest, fi.Size(), b.Size)
		}
		l.blobs = append(l.blobs, &Pending{ID: short(b.Digest), Size: b.Size, Blob: Blob{
			Digest: b.Digest, Size: b.Size, MediaType: b.MediaType,
			Open: func() (ReadAtCloser, error) { return os.Open(file) },
		}})
	}
	l.manifests = append(l.manifests, Manifest{MediaType: mt, Body: body})
	return nil
}
