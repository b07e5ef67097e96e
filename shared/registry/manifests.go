package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/content"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// manifests serves /v2/<name>/manifests/<reference> (spec: "Pulling
// manifests", "Pushing Manifests", "Deleting Manifests").
func (reg *Registry) manifests(w http.ResponseWriter, r *http.Request, m route.Match) error {
	name, ref := m.Name(), m.Param("ref")
	if err := oci.ValidName(name); err != nil {
		return errcode.New(errcode.NameInvalid, "%v", err)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return reg.getManifest(w, r, name, ref)
	case http.MethodPut:
		return reg.putManifest(w, r, name, ref)
	case http.MethodDelete:
		return reg.deleteManifest(w, r, name, ref)
	}
	return errcode.New(errcode.Unsupported, "method %s not allowed on manifests", r.Method)
}

// resolve turns a tag or digest into a stored manifest; tag is the tag
// record when it was read already (nil: read it, when ref is a tag).
func (reg *Registry) resolve(ctx context.Context, name, ref string, tag *store.Tag) (store.Manifest, error) {
	var d digest.Digest
	switch {
	case oci.IsDigest(ref):
		var err error
		if d, err = oci.ParseDigest(ref); err != nil {
			return store.Manifest{}, errcode.New(errcode.DigestInvalid, "%v", err)
		}
	case !oci.ValidTag(ref):
		return store.Manifest{}, errcode.New(errcode.TagInvalid, "tag %q does not match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", ref)
	case tag != nil:
		d = tag.Digest
	default:
		t, err := reg.meta.GetTag(ctx, name, ref)
		if errors.Is(err, store.ErrNotFound) {
			return store.Manifest{}, errcode.New(errcode.ManifestUnknown, "manifest tagged %q is not in repository %q", ref, name)
		}
		if err != nil {
			return store.Manifest{}, err
		}
		d = t.Digest
	}
	man, err := reg.meta.GetManifest(ctx, name, d)
	if errors.Is(err, store.ErrNotFound) {
		return store.Manifest{}, errcode.New(errcode.ManifestUnknown, "manifest %s is not in repository %q", d, name)
	}
	return man, err
}

func (reg *Registry) manifestBody(ctx context.Context, man store.Manifest) ([]byte, error) {
	if man.BodyKey == "" {
		return man.Body, nil
	}
	return reg.blobs.Get(ctx, man.BodyKey)
}

func (reg *Registry) getManifest(w http.ResponseWriter, r *http.Request, name, ref string) error {
	ctx := r.Context()
	var tag *store.Tag
	if !oci.IsDigest(ref) && oci.ValidTag(ref) {
		t, err := reg.meta.GetTag(ctx, name, ref)
		switch {
		case err == nil:
			tag = &t
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if tag != nil && !tag.Checked.IsZero() && reg.up != nil {
			// A pull-through cache's tag: re-checked upstream when due.
			t, warning, err := reg.up.Refresh(ctx, *tag)
			if err != nil {
				return err
			}
			if warning != "" {
				w.Header().Add("Warning", warning)
			}
			tag = &t
		}
		if r.Method == http.MethodHead && tag != nil && tag.MediaType != "" {
			// The tag repeats what a HEAD answers: one read.
			h := w.Header()
			h.Set("Docker-Content-Digest", tag.Digest.String())
			h.Set("Etag", `"`+tag.Digest.String()+`"`)
			h.Set("Content-Type", tag.MediaType)
			h.Set("Content-Length", strconv.FormatInt(tag.Size, 10))
			w.WriteHeader(http.StatusOK)
			return nil
		}
	}
	man, err := reg.resolve(ctx, name, ref, tag)
	var e *errcode.Error
	if errors.As(err, &e) && e.Code == errcode.ManifestUnknown && reg.up != nil {
		if m, ok, uerr := reg.up.Manifest(ctx, name, ref); ok {
			man, err = m, uerr
		}
	}
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Docker-Content-Digest", man.Digest.String())
	h.Set("Etag", `"`+man.Digest.String()+`"`)
	if r.Method == http.MethodHead {
		h.Set("Content-Type", man.MediaType)
		h.Set("Content-Length", strconv.FormatInt(man.Size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	body, err := reg.manifestBody(ctx, man)
	if err != nil {
		return fmt.Errorf("read manifest %s body: %w", man.Digest, err)
	}
	reg.pulled(w, r, name, man.Digest)
	writeJSON(w, r, http.StatusOK, man.MediaType, body)
	return nil
}

func (reg *Registry) putManifest(w http.ResponseWriter, r *http.Request, name, ref string) error {
	ctx := r.Context()
	if err := reg.guard(ctx, name); err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, oci.MaxManifestSize+1))
	if err != nil {
		return errcode.New(errcode.ManifestInvalid, "reading manifest: %v", err)
	}
	if len(body) > oci.MaxManifestSize {
		return errcode.New(errcode.SizeInvalid, "manifest exceeds the %d-byte limit", oci.MaxManifestSize).WithStatus(http.StatusRequestEntityTooLarge)
	}
	parsed, mediaType, err := oci.ParseManifest(r.Header.Get("Content-Type"), body)
	if err != nil {
		return errcode.New(errcode.ManifestInvalid, "%v", err)
	}
	d := digest.SHA256.FromBytes(body)
	var tags []string
	if oci.IsDigest(ref) {
		want, err := oci.ParseDigest(ref)
		if err != nil {
			return errcode.New(errcode.DigestInvalid, "%v", err)
		}
		if d = want.Algorithm().FromBytes(body); d != want {
			return errcode.New(errcode.DigestInvalid, "manifest digest is %s, not %s as the reference says", d, want)
		}
	} else {
		if !oci.ValidTag(ref) {
			return errcode.New(errcode.TagInvalid, "tag %q does not match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", ref)
		}
		tags = append(tags, ref)
	}
	// Tags by query parameter (distribution-spec, "Pushing manifests with
	// tags"): PUT .../manifests/<digest>?tag=a&tag=b.
	for _, t := range r.URL.Query()["tag"] {
		if !oci.ValidTag(t) {
			return errcode.New(errcode.TagInvalid, "tag %q does not match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", t)
		}
		tags = append(tags, t)
	}
	refs := distinctRefs(parsed)
	if err := reg.checkReferences(ctx, name, refs); err != nil {
		return err
	}
	now := reg.now().UTC()
	man := content.Manifest(name, d, mediaType, body, parsed, now)
	if err := content.Keep(ctx, reg.blobs, &man, body, reg.cfg.InlineManifestMax); err != nil {
		return err
	}
	repo, err := reg.repository(ctx, name)
	if err != nil {
		return err
	}
	if repo.ImmutableTags {
		for _, tag := range tags {
			t, err := reg.meta.GetTag(ctx, name, tag)
			if err == nil && t.Digest != d {
				return errcode.New(errcode.Denied, "tag %q in repository %q is immutable and points at %s; push under a new tag", tag, name, t.Digest)
			} else if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	prev, existed, err := reg.storedBefore(ctx, name, d)
	if err != nil {
		return err
	}
	if existed && !prev.Created.IsZero() {
		// A re-push or re-tag is activity (Pushed), not a new image:
		// the first pushed time stays (docs/retention.md "Activity").
		man.Created = prev.Created
	}
	// The push's event rides its last write: its last tag, or the
	// manifest when it sets none (docs/events.md "What rides which
	// write").
	pushed := reg.pushedEvent(ctx, now, man, tags)
	putCtx := ctx
	if len(tags) == 0 {
		putCtx = events.With(ctx, pushed)
	}
	if err := reg.meta.PutManifest(putCtx, man); err != nil {
		return fmt.Errorf("put manifest: %w", err)
	}
	if err := reg.confirmBlobs(ctx, name, refs.blobs, d, existed, len(tags) == 0); err != nil {
		return err
	}
	h := w.Header()
	for i, tag := range tags {
		evs := []events.Event{reg.event(ctx, now, events.TagMoved, name, events.TagMovedData{Tag: tag, Digest: d})}
		last := i == len(tags)-1
		if last {
			evs = append(evs, pushed)
		}
		t := store.Tag{Repo: name, Name: tag, Digest: d, MediaType: mediaType, Size: man.Size, Updated: now}
		wrote, err := reg.putTag(events.With(ctx, evs...), t, repo.ImmutableTags)
		if err != nil {
			return err
		}
		if last && !wrote {
			// An immutable tag already here: no tag write carried the
			// push's event, so the manifest's carries it.
			if err := reg.meta.PutManifest(events.With(ctx, pushed), man); err != nil {
				return fmt.Errorf("put manifest: %w", err)
			}
		}
		h.Add("OCI-Tag", tag)
	}
	if len(tags) > 0 {
		// Validate after the write, as retention does (no lock stops
		// either side): a run may have binned this very manifest (an old
		// one pushed again) between our PutManifest and our tags, and
		// checked for tags before they landed. Put it back, so a tag never
		// points at nothing.
		if _, err := reg.meta.GetManifest(ctx, name, d); errors.Is(err, store.ErrNotFound) {
			if err := reg.meta.PutManifest(ctx, man); err != nil {
				return fmt.Errorf("put manifest back: %w", err)
			}
		} else if err != nil {
			return err
		}
	}
	reg.record(ctx, "push", name+"@"+d.String(), strings.Join(tags, ","))
	h.Set("Location", "/v2/"+name+"/manifests/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	if parsed.Subject != nil {
		h.Set("OCI-Subject", parsed.Subject.Digest.String())
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// putTag points a tag at a manifest. In a repository with immutable tags
// the write is a create-if-absent: of racing first pushes of one tag
// exactly one wins, the others are refused (pushing the same manifest
// again is no change, so it succeeds). The refused push's manifest stays,
// untagged, for retention to collect: another push of the same digest may
// be tagging it at this moment. Elsewhere the last push wins.
func (reg *Registry) putTag(ctx context.Context, t store.Tag, immutable bool) (wrote bool, err error) {
	if !immutable {
		if err := reg.meta.PutTag(ctx, t); err != nil {
			return false, fmt.Errorf("put tag: %w", err)
		}
		return true, nil
	}
	err = reg.meta.CreateTag(ctx, t)
	if !errors.Is(err, store.ErrExists) {
		if err != nil {
			return false, fmt.Errorf("create tag: %w", err)
		}
		return true, nil
	}
	cur, err := reg.meta.GetTag(ctx, t.Repo, t.Name)
	if err != nil {
		return false, fmt.Errorf("read tag: %w", err)
	}
	if cur.Digest != t.Digest {
		return false, errcode.New(errcode.Denied, "tag %q in repository %q is immutable and points at %s; push under a new tag", t.Name, t.Repo, cur.Digest)
	}
	return false, nil
}

func (reg *Registry) deleteManifest(w http.ResponseWriter, r *http.Request, name, ref string) error {
	ctx := r.Context()
	if !oci.IsDigest(ref) {
		// Spec 1.1: DELETE /v2/<name>/manifests/<tag> deletes the tag.
		if !oci.ValidTag(ref) {
			return errcode.New(errcode.TagInvalid, "tag %q does not match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", ref)
		}
		ev := reg.event(ctx, reg.now(), events.TagDeleted, name, events.TagDeletedData{Tag: ref})
		if err := reg.meta.DeleteTag(events.With(ctx, ev), name, ref); errors.Is(err, store.ErrNotFound) {
			return errcode.New(errcode.ManifestUnknown, "tag %q is not in repository %q", ref, name)
		} else if err != nil {
			return err
		}
		reg.record(ctx, "delete tag", name+":"+ref, "")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	d, err := oci.ParseDigest(ref)
	if err != nil {
		return errcode.New(errcode.DigestInvalid, "%v", err)
	}
	// Tags pointing at a deleted manifest go with it; they are listed
	// first, for the event.
	var tags []string
	for after := ""; ; {
		page, err := reg.meta.ListTags(ctx, name, after, 1000)
		if err != nil {
			return err
		}
		for _, t := range page {
			if t.Digest == d {
				tags = append(tags, t.Name)
			}
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Name
	}
	ev := reg.event(ctx, reg.now(), events.ImageDeleted, name, events.ImageDeletedData{Digest: d, Tags: tags})
	if err := reg.meta.DeleteManifest(events.With(ctx, ev), name, d); errors.Is(err, store.ErrNotFound) {
		return errcode.New(errcode.ManifestUnknown, "manifest %s is not in repository %q", d, name)
	} else if err != nil {
		return err
	}
	for _, t := range tags {
		if err := reg.meta.DeleteTag(ctx, name, t); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	reg.record(ctx, "delete manifest", name+"@"+d.String(), "")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
