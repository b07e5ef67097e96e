package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
)

// defaultRehashMax is Config.RehashMax when unset: one gateway request's
// worth of bytes, which a function reads in well under a second.
const defaultRehashMax = 4 << 20

// recordBlob records b, whose bytes this request has just verified at
// b.Key, and links it into repo. When the digest is recorded already,
// the record is checked before it is trusted (see reuse).
func (reg *Registry) recordBlob(ctx context.Context, repo string, b store.Blob) error {
	linked := b
	err := reg.meta.PutBlob(ctx, b)
	if errors.Is(err, store.ErrExists) {
		linked, err = reg.reuse(ctx, b)
	}
	if err != nil {
		return fmt.Errorf("record blob %s: %w", b.Digest, err)
	}
	if _, err := reg.repository(ctx, repo); err != nil {
		return err
	}
	return reg.meta.LinkBlob(ctx, repo, linked)
}

// reuse settles a commit of a digest that is recorded already, and
// returns the record to link. The existing record wins, and the
// commit's copy is deleted, unless its object is missing or does not
// hold the digest's bytes: then the verified copy replaces it (one write
// conditional on the record still naming the bad object) and the
// mismatch is logged. The bad object stays (another record may name it,
// and links made before still do; `berth blobs verify` quarantines
// those).
func (reg *Registry) reuse(ctx context.Context, ours store.Blob) (store.Blob, error) {
	for range 3 {
		cur, mine, err := reg.existingBlob(ctx, ours)
		if err != nil || mine || cur.Key == ours.Key {
			return cur, err
		}
		problem, err := reg.mismatch(ctx, cur, ours.Size)
		if err != nil {
			return cur, err
		}
		if problem == "" {
			_ = reg.blobs.Delete(ctx, ours.Key) // someone stored these bytes first: theirs stay
			return cur, nil
		}
		reg.log.ErrorContext(ctx, "a blob record's object does not hold its digest's bytes; a verified upload replaces it",
			"digest", cur.Digest.String(), "key", cur.Key, "size", cur.Size, "problem", problem, "replacement", ours.Key)
		err = reg.meta.ReplaceBlob(ctx, ours, cur)
		if err == nil {
			return ours, nil
		} else if !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return ours, err
		}
		// The record changed meanwhile: look again.
	}
	return ours, fmt.Errorf("blob %s kept changing while it was recorded", ours.Digest)
}

// mismatch checks that the object a record names holds the digest's
// bytes, as far as is cheap: the record's size against the verified
// size, the object's size, and for objects up to Config.RehashMax their
// bytes. It returns what is wrong, or "".
func (reg *Registry) mismatch(ctx context.Context, rec store.Blob, verified int64) (string, error) {
	if rec.Size != verified {
		return fmt.Sprintf("the record says %d bytes, the verified upload has %d", rec.Size, verified), nil
	}
	size, err := reg.blobs.Stat(ctx, rec.Key)
	if errors.Is(err, store.ErrNotFound) {
		return "the object is missing", nil
	} else if err != nil {
		return "", fmt.Errorf("stat %s: %w", rec.Key, err)
	}
	if size != rec.Size {
		return fmt.Sprintf("the object has %d bytes, the record says %d", size, rec.Size), nil
	}
	limit := reg.cfg.RehashMax
	if limit == 0 {
		limit = defaultRehashMax
	}
	if size > limit {
		return "", nil
	}
	b, err := reg.blobs.Get(ctx, rec.Key)
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

// errCollected refuses to record a blob whose own object garbage
// collection is removing (a session verified long ago, its record
// collected since).
func errCollected(ours store.Blob) error {
	return errcode.New(errcode.BlobUploadUnknown, "blob %s was garbage-collected since it was uploaded; upload it again", ours.Digest)
}
