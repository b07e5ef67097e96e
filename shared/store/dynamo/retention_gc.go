package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// Garbage collection's marks: attributes of their own on link and blob
// items, so that conditions can test them.
const (
	// attrTouched is when a link or blob record was last touched (Unix
	// nanoseconds). LinkBlob's put drops it from a link and stamps the
	// JSON instead; a link's touch time is the later of the two.
	attrTouched = "touched"
	// attrCondemned is the marker of the collection deleting a blob
	// record.
	attrCondemned = "condemned"
)

// Blob records are sharded over partitions by digest prefix: the
// collector lists them all, in digest order, without a scan of the
// whole table or a secondary index, and commits spread over 16
// partitions per algorithm rather than one. A record's partition is
// "BLOB#<algorithm>:<first hex digit>" and its sort key the digest, so
// the shards, taken in order, list every record in digest order.
var (
	// blobAlgorithms are the algorithms whose shards ListBlobStates
	// reads, in order: go-digest's (the registry accepts sha256 and
	// sha512). A record of another algorithm is never listed, so never
	// collected.
	blobAlgorithms = []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512}
	hexDigits      = "0123456789abcdef"
)

// blobKey returns the key of the record of d.
func blobKey(d digest.Digest) (pk, sk string) {
	s := d.String()
	if i := strings.IndexByte(s, ':'); i >= 0 && i+1 < len(s) {
		return pkBlobPrefix + s[:i+2], s
	}
	return pkBlobPrefix + s, s
}

// putIf is a PutItem on condition cond; applied is false when the
// condition failed.
func (t *Table) putIf(ctx context.Context, it item, cond string, names map[string]string, vals item) (bool, error) {
	_, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &t.name, Item: it, ConditionExpression: &cond, ReturnConsumedCapacity: total,
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("dynamodb put %s %s: %w", skOf(it, attrPK), skOf(it, attrSK), err)
	}
	return true, nil
}

// delIf is a DeleteItem on condition cond; applied is false when the
// condition failed.
func (t *Table) delIf(ctx context.Context, pk, sk, cond string, names map[string]string, vals item) (bool, error) {
	_, err := t.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &t.name, Key: key(pk, sk), ConditionExpression: &cond, ReturnConsumedCapacity: total,
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("dynamodb delete %s %s: %w", pk, sk, err)
	}
	return true, nil
}

// lost classifies a conditional write on pk/sk that failed: ErrNotFound
// when the item is gone, else ErrConflict.
func (t *Table) lost(ctx context.Context, pk, sk, what string) error {
	if _, err := t.getItem(ctx, pk, sk); err != nil {
		return err
	}
	return fmt.Errorf("%s: %w", what, store.ErrConflict)
}

// linkStateOf decodes a link item with its touch time.
func linkStateOf(it item) (store.LinkState, error) {
	var l link
	if err := decode(it, &l); err != nil {
		return store.LinkState{}, err
	}
	st := store.LinkState{Blob: l.Blob, Touched: l.Touched}
	if at := timeOf(it, attrTouched); at.After(st.Touched) {
		st.Touched = at
	}
	return st, nil
}

// TouchLink implements store.BlobTouches: one UpdateItem (no read),
// conditional on the link existing, that returns the link.
func (t *Table) TouchLink(ctx context.Context, repo string, d digest.Digest) (store.Blob, error) {
	it, ok, err := t.update(ctx, repoPK(repo), skLink+d.String(), "SET #t = :now", "attribute_exists(pk)",
		map[string]string{"#t": attrTouched}, item{":now": nanos(t.now())})
	if err != nil {
		return store.Blob{}, err
	}
	if !ok {
		return store.Blob{}, fmt.Errorf("link %s@%s: %w", repo, d, store.ErrNotFound)
	}
	st, err := linkStateOf(it)
	return st.Blob, err
}

// ListLinkStates implements store.LinkCollector with one Query (see
// listAfter).
func (t *Table) ListLinkStates(ctx context.Context, repo string, after digest.Digest, limit int) ([]store.LinkState, error) {
	return listAfter(ctx, t, repoPK(repo), skLink, after.String(), limit, linkStateOf)
}

// DeleteStaleLink implements store.LinkCollector: a read, then a delete
// on the condition that the link is still the one read (no LinkBlob
// since) and untouched since the cutoff, so a concurrent touch or link
// always wins.
func (t *Table) DeleteStaleLink(ctx context.Context, repo string, d digest.Digest, cutoff time.Time) error {
	pk, sk := repoPK(repo), skLink+d.String()
	it, err := t.getItem(ctx, pk, sk)
	if err != nil {
		return err
	}
	st, err := linkStateOf(it)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("link %s@%s touched at %s", repo, d, st.Touched)
	if !st.Touched.Before(cutoff) {
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	}
	ok, err := t.delIf(ctx, pk, sk, "#v = :v AND (attribute_not_exists(#t) OR #t < :cut)",
		map[string]string{"#v": attrValue, "#t": attrTouched}, item{":v": it[attrValue], ":cut": nanos(cutoff)})
	if err != nil || ok {
		return err
	}
	return t.lost(ctx, pk, sk, what+", and since")
}

// blobStateOf decodes a blob record item with its marks.
func blobStateOf(it item) (store.BlobState, error) {
	var b store.Blob
	if err := decode(it, &b); err != nil {
		return store.BlobState{}, err
	}
	return store.BlobState{Blob: b, Touched: timeOf(it, attrTouched), Condemned: skOf(it, attrCondemned)}, nil
}

// TouchBlob implements store.BlobTouches: one UpdateItem conditional on
// the record existing uncondemned; when it fails, a read tells absent
// from condemned (and returns the marker).
func (t *Table) TouchBlob(ctx context.Context, d digest.Digest) (store.BlobState, error) {
	pk, sk := blobKey(d)
	for range 3 {
		it, ok, err := t.update(ctx, pk, sk, "SET #t = :now", "attribute_exists(pk) AND attribute_not_exists(#c)",
			map[string]string{"#t": attrTouched, "#c": attrCondemned}, item{":now": nanos(t.now())})
		if err != nil {
			return store.BlobState{}, err
		}
		if ok {
			return blobStateOf(it)
		}
		_, st, err := t.readBlob(ctx, pk, sk)
		if err != nil {
			return store.BlobState{}, err
		}
		if st.Condemned != "" {
			return st, fmt.Errorf("blob %s is condemned by %s: %w", d, st.Condemned, store.ErrConflict)
		}
		// Replaced by a fresh record between the two requests: touch it.
	}
	return store.BlobState{}, fmt.Errorf("blob %s kept changing: %w", d, store.ErrConflict)
}

// ReplaceCondemnedBlob implements store.BlobTouches: a put, touched now,
// conditional on the record being condemned with marker.
func (t *Table) ReplaceCondemnedBlob(ctx context.Context, b store.Blob, marker string) error {
	pk, sk := blobKey(b.Digest)
	it, err := record(pk, sk, b)
	if err != nil {
		return err
	}
	it[attrTouched] = nanos(t.now())
	ok, err := t.putIf(ctx, it, "#c = :m", map[string]string{"#c": attrCondemned}, item{":m": str(marker)})
	if err != nil || ok {
		return err
	}
	return fmt.Errorf("blob %s is not condemned by %q: %w", b.Digest, marker, store.ErrConflict)
}

// readBlob reads a blob record item and decodes it with its marks.
func (t *Table) readBlob(ctx context.Context, pk, sk string) (item, store.BlobState, error) {
	it, err := t.getItem(ctx, pk, sk)
	if err != nil {
		return nil, store.BlobState{}, err
	}
	st, err := blobStateOf(it)
	return it, st, err
}

// ListBlobStates implements store.BlobCollector: one Query per shard
// from the shard of after on (a full listing costs at least 48 Queries,
// most of them of empty partitions), stopping at limit.
func (t *Table) ListBlobStates(ctx context.Context, after digest.Digest, limit int) ([]store.BlobState, error) {
	if limit <= 0 {
		return nil, nil
	}
	afterPK, _ := blobKey(after)
	var out []store.BlobState
	for _, alg := range blobAlgorithms {
		for _, h := range hexDigits {
			pk := pkBlobPrefix + alg.String() + ":" + string(h)
			in := &dynamodb.QueryInput{
				KeyConditionExpression:    aws.String("pk = :pk"),
				ExpressionAttributeValues: item{":pk": str(pk)},
			}
			switch {
			case after == "" || pk > afterPK:
			case pk == afterPK:
				in.KeyConditionExpression = aws.String("pk = :pk AND sk > :after")
				in.ExpressionAttributeValues[":after"] = str(after.String())
			default:
				continue // before after's shard
			}
			err := t.query(ctx, in, limit-len(out), func(it item) (bool, error) {
				st, err := blobStateOf(it)
				if err != nil {
					return false, err
				}
				out = append(out, st)
				return len(out) < limit, nil
			})
			if err != nil || len(out) == limit {
				return out, err
			}
		}
	}
	return out, nil
}

// CondemnBlob implements store.BlobCollector: one UpdateItem
// conditional on the record being uncondemned and touched before the
// cutoff (a record never touched has no "touched" and fails too).
func (t *Table) CondemnBlob(ctx context.Context, d digest.Digest, marker string, cutoff time.Time) error {
	pk, sk := blobKey(d)
	_, ok, err := t.update(ctx, pk, sk, "SET #c = :m", "attribute_exists(pk) AND attribute_not_exists(#c) AND #t < :cut",
		map[string]string{"#c": attrCondemned, "#t": attrTouched}, item{":m": str(marker), ":cut": nanos(cutoff)})
	if err != nil || ok {
		return err
	}
	return t.lost(ctx, pk, sk, fmt.Sprintf("blob %s is condemned, untouched or touched since %s", d, cutoff))
}

// DeleteCondemnedBlob implements store.BlobCollector: a delete
// conditional on the marker.
func (t *Table) DeleteCondemnedBlob(ctx context.Context, d digest.Digest, marker string) error {
	pk, sk := blobKey(d)
	ok, err := t.delIf(ctx, pk, sk, "#c = :m", map[string]string{"#c": attrCondemned}, item{":m": str(marker)})
	if err != nil || ok {
		return err
	}
	return t.lost(ctx, pk, sk, fmt.Sprintf("blob %s is not condemned by %q", d, marker))
}
