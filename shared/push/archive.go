package push

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/oci"
)

// Media types of what an archive's image becomes.
const (
	mediaDockerConfig = "application/vnd.docker.container.image.v1+json"
	mediaDockerLayer  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mediaOCIConfig    = "application/vnd.oci.image.config.v1+json"
	mediaOCILayer     = "application/vnd.oci.image.layer.v1.tar"
)

// member is a file inside a tar: where its bytes start, and how many.
type member struct{ off, size int64 }

// indexTar lists a tar's regular files by cleaned name, with links
// resolved, reading headers only (the data is skipped by seeking).
func indexTar(f *os.File) (map[string]member, error) {
	members := map[string]member{}
	links := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading the archive: %w", err)
		}
		name := path.Clean(h.Name)
		switch h.Typeflag {
		case tar.TypeReg:
			// tar.Reader reads exactly the header blocks, so the file's
			// offset is where the member's data starts.
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			members[name] = member{off, h.Size}
		case tar.TypeSymlink:
			links[name] = path.Join(path.Dir(name), h.Linkname)
		case tar.TypeLink:
			links[name] = path.Clean(h.Linkname)
		}
	}
	for name, target := range links {
		for range 8 { // follow chains of links, not cycles
			if m, ok := members[target]; ok {
				members[name] = m
				break
			}
			next, ok := links[target]
			if !ok {
				break
			}
			target = next
		}
	}
	return members, nil
}

// section gives random access to part of a file without closing it.
type section struct{ *io.SectionReader }

func (section) Close() error { return nil }

// OpenArchive opens a `docker save` tar: the classic layout
// (<id>/layer.tar) and docker 25's (blobs/sha256/<hex>) alike, reading
// only its manifest.json and config; layers are read when pushed.
// Uncompressed layers are gzipped (opts.Compression) into the state
// directory first.
func OpenArchive(file string, opts SourceOptions) (*Image, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	img, err := openArchive(f, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return img, nil
}

func openArchive(f *os.File, opts SourceOptions) (*Image, error) {
	members, err := indexTar(f)
	if err != nil {
		return nil, err
	}
	read := func(name string) ([]byte, error) {
		m, ok := members[path.Clean(name)]
		if !ok {
			return nil, fmt.Errorf("the archive lacks %s", name)
		}
		if m.size > 64<<20 {
			return nil, fmt.Errorf("%s is %d bytes, too large for a manifest or config", name, m.size)
		}
		b := make([]byte, m.size)
		_, err := f.ReadAt(b, m.off)
		return b, err
	}
	raw, err := read("manifest.json")
	if err != nil {
		return nil, fmt.Errorf("not a docker save archive: %w", err)
	}
	var mf []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(raw, &mf); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if len(mf) != 1 {
		return nil, fmt.Errorf("the archive holds %d images; save one image per archive", len(mf))
	}
	cfg, err := read(mf[0].Config)
	if err != nil {
		return nil, err
	}
	var c struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if len(c.RootFS.DiffIDs) != len(mf[0].Layers) {
		return nil, fmt.Errorf("the image config lists %d layers, manifest.json %d", len(c.RootFS.DiffIDs), len(mf[0].Layers))
	}
	layerDir, cleanup, err := cacheDir(opts.State, "layers")
	if err != nil {
		return nil, err
	}
	cfgBlob := bytesBlob(cfg, mediaOCIConfig)
	img := &Image{Blobs: []*Pending{{ID: short(cfgBlob.Digest), Size: cfgBlob.Size, Blob: cfgBlob}}}
	var cached []string
	for i, name := range mf[0].Layers {
		m, ok := members[path.Clean(name)]
		if !ok {
			cleanup()
			return nil, fmt.Errorf("the archive lacks layer %s", name)
		}
		p, err := archiveLayer(f, m, name, c.RootFS.DiffIDs[i], layerDir, opts.Compression)
		if err != nil {
			cleanup()
			return nil, err
		}
		if p.Prepare != nil {
			cached = append(cached, filepath.Join(layerDir, c.RootFS.DiffIDs[i].Encoded()+".gz"))
		}
		img.Blobs = append(img.Blobs, p)
	}
	img.Manifests = func() ([]Manifest, error) { return archiveManifest(img.Blobs) }
	img.Close = func() error { cleanup(); return f.Close() }
	img.Forget = func() {
		for _, p := range cached {
			os.Remove(p)
			os.Remove(p + ".json")
		}
	}
	return img, nil
}

// archiveLayer makes the pending blob of one layer member: as it is when
// compressed (or compression is off), else gzipped into dir first.
func archiveLayer(f *os.File, m member, name string, diffID digest.Digest, dir, compression string) (*Pending, error) {
	head := make([]byte, 4)
	n, _ := f.ReadAt(head, m.off)
	head = head[:n]
	open := func() (ReadAtCloser, error) { return section{io.NewSectionReader(f, m.off, m.size)}, nil }
	p := &Pending{ID: short(diffID), Size: m.size}
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}), bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		mt := mediaOCILayer + "+gzip"
		if head[0] == 0x28 {
			mt = mediaOCILayer + "+zstd"
		}
		if d, err := digest.Parse(strings.ReplaceAll(strings.TrimPrefix(name, "blobs/"), "/", ":")); err == nil {
			p.Blob = Blob{Digest: d, Size: m.size, MediaType: mt, Open: open}
			return p, nil
		}
		p.Prepare = func(ctx context.Context, bar *Bar) (Blob, error) {
			h := sha256.New()
			if _, err := io.Copy(h, &counter{r: io.NewSectionReader(f, m.off, m.size), bar: bar}); err != nil {
				return Blob{}, err
			}
			return Blob{Digest: digest.NewDigest(digest.SHA256, h), Size: m.size, MediaType: mt, Open: open}, nil
		}
	case compression == "none":
		p.Blob = Blob{Digest: diffID, Size: m.size, MediaType: mediaOCILayer, Open: open}
	case compression == "" || compression == "gzip":
		p.Prepare = func(ctx context.Context, bar *Bar) (Blob, error) {
			file, lc, err := compressLayer(ctx, dir, diffID, io.NewSectionReader(f, m.off, m.size), bar)
			if err != nil {
				return Blob{}, fmt.Errorf("compressing layer %s: %w", short(diffID), err)
			}
			return Blob{Digest: lc.Digest, Size: lc.Size, MediaType: mediaOCILayer + "+gzip", Open: func() (ReadAtCloser, error) { return os.Open(file) }}, nil
		}
	default:
		return nil, fmt.Errorf("unknown compression %q (gzip or none)", compression)
	}
	return p, nil
}

// archiveManifest is the manifest of an archive's image once its layers
// are prepared: Docker's schema 2 when every layer is gzip (what docker
// push makes), OCI's otherwise.
func archiveManifest(blobs []*Pending) ([]Manifest, error) {
	docker := true
	for _, p := range blobs[1:] {
		docker = docker && p.Blob.MediaType == mediaOCILayer+"+gzip"
	}
	desc := func(b Blob, mt string) oci.Descriptor {
		return oci.Descriptor{MediaType: mt, Digest: b.Digest, Size: b.Size}
	}
	m := oci.Manifest{SchemaVersion: 2, MediaType: oci.MediaTypeImageManifest}
	cfg := desc(blobs[0].Blob, mediaOCIConfig)
	if docker {
		m.MediaType, cfg.MediaType = oci.MediaTypeDockerManifest, mediaDockerConfig
	}
	m.Config = &cfg
	for _, p := range blobs[1:] {
		mt := p.Blob.MediaType
		if docker {
			mt = mediaDockerLayer
		}
		m.Layers = append(m.Layers, desc(p.Blob, mt))
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return []Manifest{{MediaType: m.MediaType, Body: body}}, nil
}

// bytesBlob is a blob held in memory.
func bytesBlob(b []byte, mediaType string) Blob {
	return Blob{Digest: digest.FromBytes(b), Size: int64(len(b)), MediaType: mediaType,
		Open: func() (ReadAtCloser, error) {
			return section{io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))}, nil
		}}
}
