package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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

// PullTracker counts manifest pulls in the store's image statistics
// (WithPulls) and answers the advance notice of a deletion that a pull
// carries: one write per pull, which returns the image's statistics,
// notice included, so a warning costs no read.
type PullTracker struct {
	Stats store.PullStats
	// Now is the clock pulls are recorded with (nil: the wall clock).
	Now func() time.Time
}

// Pulled implements PullRecorder.
func (p PullTracker) Pulled(ctx context.Context, repo string, d digest.Digest) (string, error) {
	now := time.Now().UTC()
	if p.Now != nil {
		now = p.Now()
	}
	st, err := p.Stats.RecordPull(ctx, repo, d, now)
	if err != nil || st.Notice == nil {
		return "", err
	}
	return Warning(*st.Notice), nil
}

// Warning is the text of the Warning header (RFC 7234 §5.5, code 299)
// that a pull of an image with a retention notice carries.
func Warning(n store.Notice) string {
	msg := fmt.Sprintf("retention policy %q will delete this image at or after %s: %s",
		n.Policy, n.At.UTC().Format(time.RFC3339), n.Reason)
	// The header's quoted-string cannot carry quotes or backslashes.
	msg = strings.NewReplacer(`"`, "'", `\`, "/").Replace(msg)
	return `299 - "` + msg + `"`
}

// pulled records a manifest GET (WithPulls); a failure is logged, never
// the pull's.
func (reg *Registry) pulled(w http.ResponseWriter, r *http.Request, name string, d digest.Digest) {
	warning, err := reg.pulls.Pulled(r.Context(), name, d)
	if err != nil {
		reg.log.WarnContext(r.Context(), "recording a pull failed", "repository", name, "digest", d.String(), "error", err.Error())
		return
	}
	if warning != "" {
		w.Header().Add("Warning", warning)
	}
}

// link reads the link of d in repo for a client that may be about to
// reuse the blob (blob HEAD, mount source), marking the link in use so
// that garbage collection keeps it.
func (reg *Registry) link(ctx context.Context, repo string, d digest.Digest) (store.Blob, error) {
	return reg.meta.TouchLink(ctx, repo, d)
}

// confirmBlobs re-touches, after a manifest is stored, the links of the
// blobs it references. A link garbage
// collection removed since checkReferences read it means the blob may be
// gone: the manifest is taken back (unless it was stored before this
// push) and the push refused, so no stored manifest points at a deleted
// blob whatever the timing. announced says the manifest's write
// published manifest.pushed (a push without tags), which a take-back
// answers with image.deleted.
func (reg *Registry) confirmBlobs(ctx context.Context, name string, blobs []digest.Digest, d digest.Digest, existed, announced bool) error {
	err := each(len(blobs), func(i int) error {
		_, err := reg.meta.TouchLink(ctx, name, blobs[i])
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
