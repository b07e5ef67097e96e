// Package content writes the records of what a repository holds —
// blob records and manifest records — one way, whatever brought the
// bytes: a push (shared/registry) or a pull-through cache fill
// (shared/pullthrough). A blob record is a state machine shared with
// garbage collection and verification (docs/storage.md, "State
// machines"), and both writers must walk it alike.
package content

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// DefaultRehashMax is Blobs.RehashMax when unset: one gateway request's
// worth of bytes, which a function reads in well under a second.
const DefaultRehashMax = 4 << 20

// ErrCollected refuses to record a blob whose own object garbage
// collection is removing (a session verified long ago, its record
// collected since).
var ErrCollected = errors.New("the blob was garbage-collected since it was uploaded")

// BlobRecords are the blob records Blobs writes, and the links a heal
// repoints.
type BlobRecords interface {
	store.Blobs
	store.BlobRepairs
	ListRepositories(ctx context.Context, after string, limit int) ([]string, error)
}

// Blobs records blobs whose bytes are stored and whose digest was
// verified.
type Blobs struct {
	Meta    BlobRecords
	Objects store.Objects
	// Touch, when set (where garbage collection runs), marks a reused
	// record in use and replaces one the collector condemned.
	Touch store.BlobTouches
	// RehashMax is the largest object of an existing record whose bytes
	// are re-hashed before it is trusted (0: DefaultRehashMax); a larger
	// one is checked by size only (and by `berth blobs verify`).
	RehashMax int64
	// Log receives a record found not to hold its digest's bytes.
	Log *slog.Logger
}

// Record records b, whose bytes were just verified at b.Key, and returns
// the record to link. When the digest is recorded already, the record
// is checked before it is trusted: the existing record wins and b's
// object is deleted, unless its object is missing or does not hold the
// digest's bytes; then b replaces it (one write conditional on the
// record still naming the bad object) and the mismatch is logged; then
// every repository's link that still names the bad object is repointed
// at b (Repoint), so no pull is served the bad bytes after the heal
// answers. The bad object stays (another record may name it).
func (bs Blobs) Record(ctx context.Context, b store.Blob) (store.Blob, error) {
	err := bs.Meta.PutBlob(ctx, b)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, store.ErrExists) {
		return b, fmt.Errorf("record blob %s: %w", b.Digest, err)
	}
	for range 3 {
		cur, mine, err := bs.existing(ctx, b)
		if err != nil || mine || cur.Key == b.Key {
			return cur, err
		}
		problem, err := bs.mismatch(ctx, cur, b.Size)
		if err != nil {
			return cur, err
		}
		if problem == "" {
			_ = bs.Objects.Delete(ctx, b.Key) // someone stored these bytes first: theirs stay
			return cur, nil
		}
		if bs.Log != nil {
			bs.Log.ErrorContext(ctx, "a blob record's object does not hold its digest's bytes; a verified copy replaces it",
				"digest", cur.Digest.String(), "key", cur.Key, "size", cur.Size, "problem", problem, "replacement", b.Key)
		}
		err = bs.Meta.ReplaceBlob(ctx, b, cur)
		if err == nil {
			bs.repoint(ctx, b)
			return b, nil
		} else if !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return b, err
		}
		// The record changed meanwhile: look again.
	}
	return b, fmt.Errorf("blob %s kept changing while it was recorded", b.Digest)
}

// repoint moves the links made before a heal onto its record. A
// failure is logged, not answered: the record is healed, and garbage
// collection repoints what is left (docs/storage.md, "Detect and heal").
func (bs Blobs) repoint(ctx context.Context, b store.Blob) {
	moved, err := Repoint(ctx, bs.Meta, b)
	if bs.Log == nil {
		return
	}
	if err != nil {
		bs.Log.WarnContext(ctx, "repointing the links of a healed blob failed; garbage collection repoints them",
			"digest", b.Digest.String(), "error", err.Error())
	}
	if len(moved) > 0 {
		bs.Log.InfoContext(ctx, "links of a healed blob repointed at the verified copy", "digest", b.Digest.String(), "repositories", moved)
	}
}

// existing returns the record a commit links to when the digest is
// recorded already, and whether that record is the commit's own (so its
// object stays). Through Touch the record is marked in use; a record
// the collector condemned is replaced by the commit's, and one it
// deleted meanwhile is recorded anew.
func (bs Blobs) existing(ctx context.Context, ours store.Blob) (store.Blob, bool, error) {
	if bs.Touch == nil {
		b, err := bs.Meta.GetBlob(ctx, ours.Digest)
		return b, false, err
	}
	for range 3 {
		st, err := bs.Touch.TouchBlob(ctx, ours.Digest)
		switch {
		case err == nil:
			return st.Blob, false, nil
		case errors.Is(err, store.ErrConflict) && st.Condemned != "" && st.Key == ours.Key:
			return ours, false, fmt.Errorf("blob %s: %w", ours.Digest, ErrCollected)
		case errors.Is(err, store.ErrConflict) && st.Condemned != "":
			err = bs.Touch.ReplaceCondemnedBlob(ctx, ours, st.Condemned)
			if err == nil {
				return ours, true, nil
			} else if !errors.Is(err, store.ErrConflict) {
				return ours, false, err
			}
		case errors.Is(err, store.ErrNotFound):
			err = bs.Meta.PutBlob(ctx, ours)
			if err == nil {
				return ours, true, nil
			} else if !errors.Is(err, store.ErrExists) {
				return ours, false, err
			}
		default:
			return ours, false, err
		}
	}
	return ours, false, fmt.Errorf("blob %s kept changing under garbage collection", ours.Digest)
}

// mismatch checks that the object a record names holds the digest's
// bytes, as far as is cheap: the record's size against the verified
// size, the object's size, and for objects up to RehashMax their bytes.
// It returns what is wrong, or "".
func (bs Blobs) mismatch(ctx context.Context, rec store.Blob, verified int64) (string, error) {
	if rec.Size != verified {
		return fmt.Sprintf("the record says %d bytes, the verified copy has %d", rec.Size, verified), nil
	}
	size, err := bs.Objects.Stat(ctx, rec.Key)
	if errors.Is(err, store.ErrNotFound) {
		return "the object is missing", nil
	} else if err != nil {
		return "", fmt.Errorf("stat %s: %w", rec.Key, err)
	}
	if size != rec.Size {
		return fmt.Sprintf("the object has %d bytes, the record says %d", size, rec.Size), nil
	}
	limit := bs.RehashMax
	if limit == 0 {
		limit = DefaultRehashMax
	}
	if size > limit {
		return "", nil
	}
	b, err := bs.Objects.Get(ctx, rec.Key)
	if errors.Is(err, store.ErrNotFound) {
		return "the object is missing", nil
	} else if err != nil {
		return "", fmt.Errorf("read %s: %w", rec.Key, err)
	}
	alg := rec.Digest.Algorithm()
	if !alg.Available() {
		return "", nil
	}
	if got := alg.FromBytes(b); got != rec.Digest {
		return fmt.Sprintf("the object's bytes have digest %s", got), nil
	}
	return "", nil
}

// Manifest is the record of manifest body (digest d, media type
// mediaType, parsed as m) in repo, first and last pushed at now, its
// references each listed once (a manifest may repeat one descriptor
// thousands of times). Its body is not set: Keep sets it.
func Manifest(repo string, d digest.Digest, mediaType string, body []byte, m *oci.Manifest, now time.Time) store.Manifest {
	man := store.Manifest{
		Repo: repo, Digest: d, MediaType: mediaType, Size: int64(len(body)),
		ArtifactType: m.EffectiveArtifactType(), Annotations: m.Annotations,
		Created: now, Pushed: now, ImageSize: m.ImageSize(),
	}
	if m.Subject != nil {
		man.Subject = m.Subject.Digest
	}
	seen := map[digest.Digest]bool{}
	for _, ref := range m.References() {
		if !seen[ref.Digest] {
			seen[ref.Digest] = true
			man.Refs = append(man.Refs, ref.Digest)
		}
	}
	return man
}

// BodyKey is the object a manifest body too large to keep inline is
// stored at (one per digest, shared by every repository).
func BodyKey(d digest.Digest) string {
	return "manifests/" + d.Algorithm().String() + "/" + d.Encoded()
}

// Keep puts body into man: inline when it is at most inlineMax bytes,
// else written to objects at BodyKey.
func Keep(ctx context.Context, objects store.Objects, man *store.Manifest, body []byte, inlineMax int) error {
	if len(body) <= inlineMax {
		man.Body = body
		return nil
	}
	man.BodyKey = BodyKey(man.Digest)
	if err := objects.Put(ctx, man.BodyKey, body); err != nil {
		return fmt.Errorf("store manifest body: %w", err)
	}
	return nil
}
