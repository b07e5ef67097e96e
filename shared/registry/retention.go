package registry

import (
	"context"
	"errors"
	"net/http"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// PullRecorder counts manifest pulls for retention (a GET counts, a HEAD
// does not) and may answer a warning for the client.
type PullRecorder interface {
	// Pulled records a pull of repo@d; warning, when not "", is a
	// Warning header value (`299 - "..."`).
	Pulled(ctx context.Context, repo string, d digest.Digest) (warning string, err error)
}

// pulled records a manifest GET through the Pulls hook; a failure is
// logged, never the pull's.
func (reg *Registry) pulled(w http.ResponseWriter, r *http.Request, name string, d digest.Digest) {
	if reg.Pulls == nil {
		return
	}
	warning, err := reg.Pulls.Pulled(r.Context(), name, d)
	if err != nil {
		reg.log.WarnContext(r.Context(), "recording a pull failed", "repository", name, "digest", d.String(), "error", err.Error())
		return
	}
	if warning != "" {
		w.Header().Add("Warning", warning)
	}
}

// link reads the link of d in repo for a client that may be about to
// reuse the blob (blob HEAD, mount source): through the Touch hook it
// also marks the link in use, so garbage collection keeps it.
func (reg *Registry) link(ctx context.Context, repo string, d digest.Digest) (store.Blob, error) {
	if reg.Touch == nil {
		return reg.meta.GetLink(ctx, repo, d)
	}
	return reg.Touch.TouchLink(ctx, repo, d)
}

// confirmBlobs re-touches, after a manifest is stored, the links of the
// blobs it references (through the Touch hook). A link garbage
// collection removed since checkReferences read it means the blob may be
// gone: the manifest is taken back (unless it was stored before this
// push) and the push refused, so no stored manifest points at a deleted
// blob whatever the timing. announced says the manifest's write
// published manifest.pushed (a push without tags), which a take-back
// answers with image.deleted.
func (reg *Registry) confirmBlobs(ctx context.Context, name string, blobs []digest.Digest, d digest.Digest, existed, announced bool) error {
	if reg.Touch == nil {
		return nil
	}
	err := each(len(blobs), func(i int) error {
		_, err := reg.Touch.TouchLink(ctx, name, blobs[i])
		if errors.Is(err, store.ErrNotFound) {
			e := errcode.New(errcode.ManifestBlobUnknown, "blob %s was garbage-collected from repository %q during the push; push it again", blobs[i], name)
			e.Detail = map[string]string{"digest": blobs[i].String()}
			return e
		}
		return err
	})
	var gone *errcode.Error
	if errors.As(err, &gone) && !existed {
		delCtx := ctx
		if announced {
			ev := reg.event(ctx, reg.now(), events.ImageDeleted, name, events.ImageDeletedData{Digest: d,
				Reason: "the push was refused: a blob it references was garbage-collected during the push"})
			delCtx = events.With(ctx, ev)
		}
		if err := reg.meta.DeleteManifest(delCtx, name, d); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return err
}

// storedBefore returns the record of manifest d in repo when it is
// stored already: a push keeps its first pushed time, and confirmBlobs
// does not take back a manifest that was there before.
func (reg *Registry) storedBefore(ctx context.Context, name string, d digest.Digest) (store.Manifest, bool, error) {
	m, err := reg.meta.GetManifest(ctx, name, d)
	if errors.Is(err, store.ErrNotFound) {
		return m, false, nil
	}
	return m, err == nil, err
}
