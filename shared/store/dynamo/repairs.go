package dynamo

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// ReplaceBlob implements store.BlobRepairs: a read, then a put (touched
// now, uncondemned) conditional on the record being the one read, so a
// record that changed in between is never overwritten.
func (t *Table) ReplaceBlob(ctx context.Context, b, old store.Blob) error {
	pk, sk := blobKey(b.Digest)
	cur, st, err := t.readBlob(ctx, pk, sk)
	if err != nil {
		return err
	}
	if st.Key != old.Key {
		return fmt.Errorf("blob %s names %s, not %s: %w", b.Digest, st.Key, old.Key, store.ErrConflict)
	}
	it, err := record(pk, sk, b)
	if err != nil {
		return err
	}
	it[attrTouched] = nanos(t.now())
	ok, err := t.putIf(ctx, it, "#v = :v", map[string]string{"#v": attrValue}, item{":v": cur[attrValue]})
	if err != nil || ok {
		return err
	}
	return t.lost(ctx, pk, sk, fmt.Sprintf("blob %s changed while it was replaced", b.Digest))
}

// QuarantineBlob implements store.BlobRepairs: a read, then an update
// conditional on the record being the one read and uncondemned.
func (t *Table) QuarantineBlob(ctx context.Context, old store.Blob, marker string) error {
	pk, sk := blobKey(old.Digest)
	cur, st, err := t.readBlob(ctx, pk, sk)
	if err != nil {
		return err
	}
	if st.Key != old.Key || st.Condemned != "" {
		return fmt.Errorf("blob %s names %s (condemned %q), not %s: %w", old.Digest, st.Key, st.Condemned, old.Key, store.ErrConflict)
	}
	_, ok, err := t.update(ctx, pk, sk, "SET #c = :m", "#v = :v AND attribute_not_exists(#c)",
		map[string]string{"#c": attrCondemned, "#v": attrValue}, item{":m": str(marker), ":v": cur[attrValue]})
	if err != nil || ok {
		return err
	}
	return t.lost(ctx, pk, sk, fmt.Sprintf("blob %s changed while it was quarantined", old.Digest))
}

// linkNaming reads the link of d in repo, and returns its item and
// record if it names the key old (ErrConflict if another).
func (t *Table) linkNaming(ctx context.Context, repo string, d digest.Digest, old string) (item, link, error) {
	var l link
	cur, err := t.getItem(ctx, repoPK(repo), skLink+d.String())
	if err != nil {
		return nil, l, err
	}
	if err := decode(cur, &l); err != nil {
		return nil, l, err
	}
	if l.Key != old {
		return nil, l, fmt.Errorf("link %s@%s names %s, not %s: %w", repo, d, l.Key, old, store.ErrConflict)
	}
	return cur, l, nil
}

// RepointLink implements store.BlobRepairs: a read, then an update of
// the link's record (its touch time kept) conditional on the link being
// the one read.
func (t *Table) RepointLink(ctx context.Context, repo string, b store.Blob, old string) error {
	cur, l, err := t.linkNaming(ctx, repo, b.Digest, old)
	if err != nil {
		return err
	}
	l.Blob = b
	raw, err := json.Marshal(l)
	if err != nil {
		return err
	}
	pk, sk := repoPK(repo), skLink+b.Digest.String()
	_, ok, err := t.update(ctx, pk, sk, "SET #v = :new", "#v = :v",
		map[string]string{"#v": attrValue}, item{":new": str(string(raw)), ":v": cur[attrValue]})
	if err != nil || ok {
		return err
	}
	return t.lost(ctx, pk, sk, fmt.Sprintf("link %s@%s changed while it was repointed", repo, b.Digest))
}

// UnlinkBlobIf implements store.BlobRepairs: a read, then a delete
// conditional on the link being the one read.
func (t *Table) UnlinkBlobIf(ctx context.Context, repo string, d digest.Digest, old string) error {
	cur, _, err := t.linkNaming(ctx, repo, d, old)
	if err != nil {
		return err
	}
	pk, sk := repoPK(repo), skLink+d.String()
	ok, err := t.delIf(ctx, pk, sk, "#v = :v", map[string]string{"#v": attrValue}, item{":v": cur[attrValue]})
	if err != nil || ok {
		return err
	}
	return t.lost(ctx, pk, sk, fmt.Sprintf("link %s@%s changed while it was unlinked", repo, d))
}
