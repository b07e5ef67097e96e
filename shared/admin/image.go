package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// Content reads stored objects whole (store.Objects' Get): manifest
// bodies kept out of line, and image config blobs, whose history and
// labels image details show.
type Content interface {
	// Get reads a whole object; store.ErrNotFound if absent.
	Get(ctx context.Context, key string) ([]byte, error)
}

// WithContent lets image details read config blobs and large manifest
// bodies from c. Without it they show what metadata holds (no history,
// no labels).
func WithContent(c Content) Option { return func(a *API) { a.content = c } }

// MaxConfigRead is the largest config blob image details read: image
// configs are a few KiB (history grows by a line a layer); a larger
// "config" is an artifact's payload, not one to show.
const MaxConfigRead = 1 << 20

// ImageDetails is one manifest in full: its summary, what it
// references, the platforms of an index, the config and layers (with
// the history line that created each) of an image, and its referrers.
type ImageDetails struct {
	Repository string `json:"repository"`
	ImageView
	Annotations map[string]string `json:"annotations,omitempty"`
	// References are the blobs and child manifests it references.
	References []digest.Digest `json:"references"`
	// Referrers are the manifests whose subject it is (signatures,
	// SBOMs, attestations).
	Referrers []ImageView `json:"referrers"`
	// Platforms are an index's children, in the index's order.
	Platforms []PlatformImage `json:"platforms,omitempty"`
	// Config is an image's config descriptor, with what the config
	// says when it could be read.
	Config *ImageConfig `json:"config,omitempty"`
	// Layers are an image's layers in order, each with the history
	// entry that created it (from the config).
	Layers []Layer `json:"layers,omitempty"`
	// History is the config's whole history, empty-layer steps (ENV,
	// CMD, LABEL...) included.
	History []HistoryEntry `json:"history,omitempty"`
	// Manifest is the manifest's bytes as pushed (the console shows
	// them; the API serves them at /v2/<name>/manifests/<digest>).
	Manifest []byte `json:"-"`
}

// PlatformImage is one child of an index.
type PlatformImage struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	// ImageSize is the child's config plus layers (0 when the child is
	// not in the repository).
	ImageSize int64 `json:"imageSize"`
	// Platform is "os/architecture[/variant]", empty when the index
	// names none (an attestation manifest, say).
	Platform     string            `json:"platform,omitempty"`
	OS           string            `json:"os,omitempty"`
	Architecture string            `json:"architecture,omitempty"`
	Variant      string            `json:"variant,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// ImageConfig is an image's config: its descriptor, and what the blob
// says (when it was read: Read).
type ImageConfig struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	// Read says the fields below come from the blob; Unread says why
	// not when it was not read.
	Read         bool              `json:"read"`
	Unread       string            `json:"unread,omitempty"`
	Created      time.Time         `json:"created,omitzero"`
	Author       string            `json:"author,omitempty"`
	OS           string            `json:"os,omitempty"`
	Architecture string            `json:"architecture,omitempty"`
	Variant      string            `json:"variant,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
}

// Layer is one layer of an image.
type Layer struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	// CreatedBy is the build step that made it ("RUN apk add ..."),
	// Created when, from the config's history.
	CreatedBy string    `json:"createdBy,omitempty"`
	Created   time.Time `json:"created,omitzero"`
	Comment   string    `json:"comment,omitempty"`
}

// HistoryEntry is one step of an image's build, as its config records
// it.
type HistoryEntry struct {
	Created    time.Time `json:"created,omitzero"`
	CreatedBy  string    `json:"createdBy,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	EmptyLayer bool      `json:"emptyLayer,omitempty"`
}

// Image returns an image's details for who with read on repository
// repo (GET /api/images/<repository>@<digest>).
func (a *API) Image(ctx context.Context, who authz.Actor, repo string, d digest.Digest) (ImageDetails, error) {
	if err := d.Validate(); err != nil {
		return ImageDetails{}, errcode.New(errcode.DigestInvalid, "digest %q: %v", clipped(d.String()), err)
	}
	if _, err := a.repository(ctx, who, repo, auth.Read); err != nil {
		return ImageDetails{}, err
	}
	m, err := a.meta.GetManifest(ctx, repo, d)
	if errors.Is(err, store.ErrNotFound) {
		return ImageDetails{}, errcode.New(errcode.ManifestUnknown, "manifest %s is not in repository %q", d, repo)
	} else if err != nil {
		return ImageDetails{}, err
	}
	tags, err := a.tagsOf(ctx, repo, d)
	if err != nil {
		return ImageDetails{}, err
	}
	st, err := a.imageStats(ctx, repo, d)
	if err != nil {
		return ImageDetails{}, err
	}
	sz := a.newSizer(repo, nil)
	size, err := sz.size(ctx, m, 0)
	if err != nil {
		return ImageDetails{}, err
	}
	out := ImageDetails{Repository: repo, ImageView: viewImage(m, size, st, tags), Annotations: m.Annotations,
		References: m.Refs, Referrers: []ImageView{}}
	if out.References == nil {
		out.References = []digest.Digest{}
	}
	refs, err := a.meta.Referrers(ctx, repo, d)
	if err != nil {
		return out, err
	}
	for _, x := range refs {
		st, err := a.imageStats(ctx, repo, x.Digest)
		if err != nil {
			return out, err
		}
		xs, err := sz.size(ctx, x, 0)
		if err != nil {
			return out, err
		}
		out.Referrers = append(out.Referrers, viewImage(x, xs, st, nil))
	}
	body, err := a.body(ctx, m)
	if err != nil || body == nil {
		return out, err
	}
	out.Manifest = body
	parsed, _, err := oci.ParseManifest(m.MediaType, body)
	if err != nil {
		// Stored manifests were parsed on push; one that no longer
		// parses (a media type Berth has since dropped) shows no parts.
		a.log.WarnContext(ctx, "stored manifest does not parse", "repository", repo, "digest", d.String(), "error", err.Error())
		return out, nil
	}
	for _, c := range parsed.Manifests {
		p := PlatformImage{Digest: c.Digest, MediaType: c.MediaType, Size: c.Size, Annotations: c.Annotations}
		if c.Platform != nil {
			p.OS, p.Architecture, p.Variant = c.Platform.OS, c.Platform.Architecture, c.Platform.Variant
			p.Platform = strings.TrimSuffix(p.OS+"/"+p.Architecture+"/"+p.Variant, "/")
		}
		if child, err := a.meta.GetManifest(ctx, repo, c.Digest); err == nil {
			if p.ImageSize, err = sz.size(ctx, child, 1); err != nil {
				return out, err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return out, err
		}
		out.Platforms = append(out.Platforms, p)
	}
	if parsed.Config == nil {
		return out, nil
	}
	for _, l := range parsed.Layers {
		out.Layers = append(out.Layers, Layer{Digest: l.Digest, MediaType: l.MediaType, Size: l.Size})
	}
	out.Config = &ImageConfig{Digest: parsed.Config.Digest, MediaType: parsed.Config.MediaType, Size: parsed.Config.Size}
	if err := a.readConfig(ctx, repo, &out); err != nil {
		return out, err
	}
	return out, nil
}

// GET /api/images/<name>@<digest> (read)
func (a *API) getImage(w http.ResponseWriter, r *http.Request, c *call) error {
	d, err := oci.ParseDigest(c.digest)
	if err != nil {
		return errcode.New(errcode.DigestInvalid, "%v", err)
	}
	out, err := a.Image(r.Context(), c.who, c.repo, d)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, out)
}

// body returns a manifest's bytes: inline, or read from content (nil
// when out of line and no content reader is configured).
func (a *API) body(ctx context.Context, m store.Manifest) ([]byte, error) {
	if m.BodyKey == "" {
		return m.Body, nil
	}
	if a.content == nil {
		return nil, nil
	}
	b, err := a.content.Get(ctx, m.BodyKey)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s body: %w", m.Digest, err)
	}
	return b, nil
}

// imageConfigTypes are the config media types whose blob is an image
// config (OCI's and Docker's); an artifact's config is its own.
var imageConfigTypes = map[string]bool{
	"application/vnd.oci.image.config.v1+json":       true,
	"application/vnd.docker.container.image.v1+json": true,
}

// configBlob is the part of an image config that details show (OCI
// image-spec config.md; Docker's has the same fields).
type configBlob struct {
	Created      time.Time `json:"created"`
	Author       string    `json:"author"`
	OS           string    `json:"os"`
	Architecture string    `json:"architecture"`
	Variant      string    `json:"variant"`
	Config       struct {
		Labels     map[string]string `json:"Labels"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
	} `json:"config"`
	History []struct {
		Created    time.Time `json:"created"`
		CreatedBy  string    `json:"created_by"`
		Comment    string    `json:"comment"`
		EmptyLayer bool      `json:"empty_layer"`
	} `json:"history"`
}

// readConfig fills out.Config, out.History and the layers' history from
// the config blob linked to repo, when it is an image config small
// enough to read; otherwise Config.Unread says why not. The bytes are
// checked against the digest before anything is shown.
func (a *API) readConfig(ctx context.Context, repo string, out *ImageDetails) error {
	c := out.Config
	switch {
	case a.content == nil:
		c.Unread = "this deployment does not read blobs"
		return nil
	case !imageConfigTypes[c.MediaType]:
		c.Unread = "not an image config"
		return nil
	case c.Size > MaxConfigRead:
		c.Unread = fmt.Sprintf("larger than %d bytes", MaxConfigRead)
		return nil
	}
	link, err := a.meta.GetLink(ctx, repo, c.Digest)
	if errors.Is(err, store.ErrNotFound) {
		c.Unread = "the config blob is not in the repository"
		return nil
	} else if err != nil {
		return err
	}
	if link.Size > MaxConfigRead {
		c.Unread = fmt.Sprintf("larger than %d bytes", MaxConfigRead)
		return nil
	}
	b, err := a.content.Get(ctx, link.Key)
	if errors.Is(err, store.ErrNotFound) {
		c.Unread = "the config blob's object is missing"
		return nil
	} else if err != nil {
		return fmt.Errorf("read config %s: %w", c.Digest, err)
	}
	if c.Digest.Algorithm().Available() && c.Digest.Algorithm().FromBytes(b) != c.Digest {
		a.log.WarnContext(ctx, "config blob does not match its digest", "repository", repo, "digest", c.Digest.String())
		c.Unread = "the stored bytes do not match the digest (berth blobs verify)"
		return nil
	}
	var cfg configBlob
	if err := json.Unmarshal(b, &cfg); err != nil {
		c.Unread = "not valid JSON"
		return nil
	}
	c.Read, c.Created, c.Author = true, cfg.Created, cfg.Author
	c.OS, c.Architecture, c.Variant = cfg.OS, cfg.Architecture, cfg.Variant
	c.Labels, c.Entrypoint, c.Cmd = cfg.Config.Labels, cfg.Config.Entrypoint, cfg.Config.Cmd
	layer := 0
	for _, h := range cfg.History {
		e := HistoryEntry{Created: h.Created, CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		out.History = append(out.History, e)
		if h.EmptyLayer || layer >= len(out.Layers) {
			continue
		}
		l := &out.Layers[layer]
		l.CreatedBy, l.Created, l.Comment = h.CreatedBy, h.Created, h.Comment
		layer++
	}
	return nil
}

// sizer works out images' sizes (ImageView.ImageSize): the record's,
// else from the body; an index's is its children's sum, read from the
// manifests at hand or the store.
type sizer struct {
	a     *API
	repo  string
	known map[digest.Digest]store.Manifest
}

func (a *API) newSizer(repo string, ms []store.Manifest) *sizer {
	known := make(map[digest.Digest]store.Manifest, len(ms))
	for _, m := range ms {
		known[m.Digest] = m
	}
	return &sizer{a: a, repo: repo, known: known}
}

// maxIndexDepth bounds the nesting of indexes whose children are
// summed (an index of indexes is rare; deeper counts nothing).
const maxIndexDepth = 2

func (s *sizer) size(ctx context.Context, m store.Manifest, depth int) (int64, error) {
	if m.ImageSize > 0 {
		return m.ImageSize, nil
	}
	body, err := s.a.body(ctx, m)
	if err != nil || body == nil {
		return 0, err
	}
	parsed, _, err := oci.ParseManifest(m.MediaType, body)
	if err != nil {
		return 0, nil // shows as unknown; Image logs it
	}
	if !oci.IsIndex(m.MediaType) {
		return parsed.ImageSize(), nil
	}
	if depth >= maxIndexDepth {
		return 0, nil
	}
	var sum int64
	for _, c := range parsed.Manifests {
		child, ok := s.known[c.Digest]
		if !ok {
			child, err = s.a.meta.GetManifest(ctx, s.repo, c.Digest)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return 0, err
			}
			s.known[c.Digest] = child
		}
		n, err := s.size(ctx, child, depth+1)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}
