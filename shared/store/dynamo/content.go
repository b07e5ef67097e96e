package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// PutTag implements store.Tags: one PutItem, so a tag moves atomically
// and the last push wins. It carries an event.
func (t *Table) PutTag(ctx context.Context, tag store.Tag) error {
	return t.putEv(ctx, repoPK(tag.Repo), skTag+tag.Name, tag)
}

// CreateTag implements store.Tags with a create-if-absent write; it
// carries an event.
func (t *Table) CreateTag(ctx context.Context, tag store.Tag) error {
	it, err := record(repoPK(tag.Repo), skTag+tag.Name, tag)
	if err != nil {
		return err
	}
	return t.write(ctx, withEvent(ctx, it), "attribute_not_exists(pk)", nil, store.ErrExists)
}

// GetTag implements store.Tags.
func (t *Table) GetTag(ctx context.Context, repo, name string) (store.Tag, error) {
	var tag store.Tag
	return tag, t.get(ctx, repoPK(repo), skTag+name, &tag)
}

// DeleteTag implements store.Tags; it carries an event.
func (t *Table) DeleteTag(ctx context.Context, repo, name string) error {
	_, err := t.delEv(ctx, repoPK(repo), skTag+name)
	return err
}

// ListTags implements store.Tags with one Query (see listAfter).
func (t *Table) ListTags(ctx context.Context, repo, after string, limit int) ([]store.Tag, error) {
	return listAfter(ctx, t, repoPK(repo), skTag, after, limit, func(it item) (store.Tag, error) {
		var tag store.Tag
		return tag, decode(it, &tag)
	})
}

// PutBlob implements store.Blobs with a create-if-absent write.
func (t *Table) PutBlob(ctx context.Context, b store.Blob) error {
	pk, sk := blobKey(b.Digest)
	return t.create(ctx, pk, sk, b)
}

// GetBlob implements store.Blobs.
func (t *Table) GetBlob(ctx context.Context, d digest.Digest) (store.Blob, error) {
	var b store.Blob
	pk, sk := blobKey(d)
	return b, t.get(ctx, pk, sk, &b)
}

// link is a blob's record as linked to a repository, with the time that
// garbage collection's grace period counts from.
type link struct {
	store.Blob
	Touched time.Time `json:"touched"`
}

// LinkBlob implements store.Blobs; linking again refreshes the time.
func (t *Table) LinkBlob(ctx context.Context, repo string, b store.Blob) error {
	return t.put(ctx, repoPK(repo), skLink+b.Digest.String(), link{Blob: b, Touched: t.now().UTC()})
}

// GetLink implements store.Blobs.
func (t *Table) GetLink(ctx context.Context, repo string, d digest.Digest) (store.Blob, error) {
	var l link
	return l.Blob, t.get(ctx, repoPK(repo), skLink+d.String(), &l)
}

// ListLinks implements store.Blobs with one Query (see listAfter).
func (t *Table) ListLinks(ctx context.Context, repo string, after digest.Digest, limit int) ([]store.Blob, error) {
	return listAfter(ctx, t, repoPK(repo), skLink, after.String(), limit, func(it item) (store.Blob, error) {
		var l link
		return l.Blob, decode(it, &l)
	})
}

// UnlinkBlob implements store.Blobs.
func (t *Table) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	_, err := t.del(ctx, repoPK(repo), skLink+d.String())
	return err
}

// uploadItem is a session's item: the record, its version (the
// compare-and-set attribute) and its expiry in epoch seconds (the
// table's TTL attribute; DynamoDB deletes expired items lazily, so
// GetUpload checks expiry itself).
func uploadItem(u store.Upload) (item, error) {
	it, err := record(pkUploadPrefx+u.ID, skUpload, u)
	if err != nil {
		return nil, err
	}
	it[attrVersion] = num(u.Version)
	if !u.Expires.IsZero() {
		it[attrTTL] = num(u.Expires.Unix())
	}
	return it, nil
}

// CreateUpload implements store.Uploads.
func (t *Table) CreateUpload(ctx context.Context, u store.Upload) error {
	u.Version = 1
	it, err := uploadItem(u)
	if err != nil {
		return err
	}
	return t.write(ctx, it, "attribute_not_exists(pk)", nil, store.ErrExists)
}

// GetUpload implements store.Uploads.
func (t *Table) GetUpload(ctx context.Context, id string) (store.Upload, error) {
	var u store.Upload
	if err := t.get(ctx, pkUploadPrefx+id, skUpload, &u); err != nil {
		return store.Upload{}, err
	}
	if !u.Expires.IsZero() && t.now().After(u.Expires) {
		return store.Upload{}, fmt.Errorf("upload %s expired at %v: %w", id, u.Expires, store.ErrNotFound)
	}
	return u, nil
}

// UpdateUpload implements store.Uploads: a PutItem conditional on the
// stored version being u.Version-1, so of two requests continuing the
// same version one wins and the other gets ErrConflict. A session that
// does not exist fails the condition too.
func (t *Table) UpdateUpload(ctx context.Context, u store.Upload) error {
	it, err := uploadItem(u)
	if err != nil {
		return err
	}
	return t.write(ctx, it, attrVersion+" = :prev", item{":prev": num(u.Version - 1)}, store.ErrConflict)
}

// DeleteUpload implements store.Uploads: a DeleteItem conditional on
// the version, so a commit and a cancel racing from one version cannot
// both claim the session. A lost condition costs one read to tell a
// session gone from one moved on.
func (t *Table) DeleteUpload(ctx context.Context, id string, version int64) error {
	pk := pkUploadPrefx + id
	ok, err := t.delIf(ctx, pk, skUpload, "#ver = :v", map[string]string{"#ver": attrVersion}, item{":v": num(version)})
	if err != nil || ok {
		return err
	}
	return t.lost(ctx, pk, skUpload, fmt.Sprintf("upload %s is not at version %d", id, version))
}
