package registry

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/shared/content"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
)

// recordBlob records b, whose bytes this request has just verified at
// b.Key, and links it into repo. When the digest is recorded already,
// the record is checked before it is trusted (shared/content).
func (reg *Registry) recordBlob(ctx context.Context, repo string, b store.Blob) error {
	linked, err := content.Blobs{Meta: reg.meta, Objects: reg.blobs, Touch: reg.meta, RehashMax: reg.cfg.RehashMax, Log: reg.log}.Record(ctx, b)
	if errors.Is(err, content.ErrCollected) {
		return errcode.New(errcode.BlobUploadUnknown, "blob %s was garbage-collected since it was uploaded; upload it again", b.Digest)
	} else if err != nil {
		return err
	}
	if _, err := reg.repository(ctx, repo); err != nil {
		return err
	}
	return reg.meta.LinkBlob(ctx, repo, linked)
}
