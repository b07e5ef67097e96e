package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// splitRecord cuts a record's JSON into a main item under pk/sk and
// overflow items "<sk>#0001", ... of at most chunkBytes each (never
// splitting a UTF-8 character), as a manifest's record is split (see
// chunkBytes); the main item's "n" counts them when over one.
func splitRecord(pk, sk, raw string) []item {
	var items []item
	for i := 0; i == 0 || len(raw) > 0; i++ {
		n := min(len(raw), chunkBytes)
		for n < len(raw) && !utf8.RuneStart(raw[n]) {
			n--
		}
		k := sk
		if i > 0 {
			k = overflowSK(sk, i)
		}
		it := key(pk, k)
		it[attrValue] = str(raw[:n])
		raw = raw[n:]
		items = append(items, it)
	}
	if len(items) > 1 {
		items[0][attrChunks] = num(int64(len(items)))
	}
	return items
}

// binnedItems are a binned image's items: its record (without the
// manifest body) split by splitRecord, the body a binary attribute of
// the main item. A binned image is a manifest record plus its tags, so
// it can outgrow an item just as a manifest can.
func binnedItems(pk, sk string, b store.BinnedImage) ([]item, error) {
	body := b.Manifest.Body
	b.Manifest.Body = nil
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	items := splitRecord(pk, sk, string(raw))
	if len(body) > 0 {
		items[0][attrBody] = &types.AttributeValueMemberB{Value: body}
	}
	return items, nil
}

// binnedOf decodes a binned image's main item and overflow items.
func binnedOf(main item, overflow []item) (store.BinnedImage, error) {
	var b store.BinnedImage
	body, err := joinChunks("binned image", main, overflow, &b)
	if body != nil {
		b.Manifest.Body = body
	}
	return b, err
}

// PutBinned implements store.RecycleBin: overflow items first, then the
// main item (so a reader never finds a main item whose overflow is
// missing); overflow items that a larger record replaced here left
// behind are deleted last.
func (t *Table) PutBinned(ctx context.Context, b store.BinnedImage) error {
	pk, sk := repoPK(b.Manifest.Repo), skBinned+b.Manifest.Digest.String()
	items, err := binnedItems(pk, sk, b)
	if err != nil {
		return err
	}
	for i := len(items) - 1; i > 0; i-- {
		if err := t.write(ctx, items[i], "", nil, nil); err != nil {
			return err
		}
	}
	var n int
	out, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &t.name, Item: items[0], ReturnValues: types.ReturnValueAllOld, ReturnConsumedCapacity: total,
	}, attempts(&n))
	if err != nil {
		return fmt.Errorf("dynamodb put %s %s: %w", pk, sk, err)
	}
	old := out.Attributes
	if n > 1 {
		// The "old" item may be this call's own first attempt.
		if old, err = t.ambiguousOld(ctx, pk, sk); err != nil {
			return err
		}
	}
	if old == nil {
		return nil
	}
	for i := len(items); i < chunks(old); i++ {
		if _, err := t.del(ctx, pk, overflowSK(sk, i)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// GetBinned implements store.RecycleBin: one GetItem (plus one Query
// for a record with overflow items).
func (t *Table) GetBinned(ctx context.Context, repo string, d digest.Digest) (store.BinnedImage, error) {
	main, overflow, err := t.readChunked(ctx, repoPK(repo), skBinned+d.String())
	if err != nil {
		return store.BinnedImage{}, err
	}
	return binnedOf(main, overflow)
}

// ListBinned implements store.RecycleBin with one Query from
// "X#<after>" to the end of the bin (see listChunked).
func (t *Table) ListBinned(ctx context.Context, repo string, after digest.Digest, limit int) ([]store.BinnedImage, error) {
	return listChunked(ctx, t, repoPK(repo), skBinned, after.String(), limit, binnedOf)
}

// listChunked is listAfter for records that may have overflow items:
// up to limit records of partition pk whose sort keys are prefix+name,
// for names after the one given, each main item assembled with the
// overflow items that follow it.
func listChunked[T any](ctx context.Context, t *Table, pk, prefix, after string, limit int, dec func(main item, overflow []item) (T, error)) ([]T, error) {
	if limit <= 0 {
		return nil, nil
	}
	lo, hi := prefix+after, prefix[:len(prefix)-1]+"$"
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: item{":pk": str(pk), ":lo": str(lo), ":hi": str(hi)},
	}
	var (
		main     item
		overflow []item
		out      []T
	)
	flush := func() error {
		if main == nil {
			return nil
		}
		v, err := dec(main, overflow)
		main, overflow = nil, nil
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	}
	err := t.query(ctx, in, limit+1, func(it item) (bool, error) {
		sk := skOf(it, attrSK)
		switch {
		case after != "" && (sk == lo || strings.HasPrefix(sk, lo+"#")):
			return true, nil // the record named after, and its overflow
		case main != nil && strings.HasPrefix(sk, skOf(main, attrSK)+"#"):
			overflow = append(overflow, it)
			return true, nil
		case main != nil && len(out)+1 == limit:
			return false, nil // the next record: the one in hand is the last
		}
		if err := flush(); err != nil {
			return false, err
		}
		main = it
		return true, nil
	})
	if err == nil {
		err = flush()
	}
	return out, err
}

// DeleteBinned implements store.RecycleBin: the main item, then its
// overflow items.
func (t *Table) DeleteBinned(ctx context.Context, repo string, d digest.Digest) error {
	pk, sk := repoPK(repo), skBinned+d.String()
	old, err := t.del(ctx, pk, sk)
	if err != nil {
		return err
	}
	return t.deleteItems(ctx, pk, sk, chunks(old))
}

// DeleteTagIf implements store.RecycleBin: a read, then a delete
// conditional on the record being exactly the one read, so a tag that a
// push moves in between is never removed. A tag pushed again to the
// same digest meanwhile is read again.
func (t *Table) DeleteTagIf(ctx context.Context, repo, name string, d digest.Digest) error {
	pk, sk := repoPK(repo), skTag+name
	for range 3 {
		it, err := t.getItem(ctx, pk, sk)
		if err != nil {
			return err
		}
		var tag store.Tag
		if err := decode(it, &tag); err != nil {
			return err
		}
		if tag.Digest != d {
			return fmt.Errorf("tag %s:%s points at %s, not %s: %w", repo, name, tag.Digest, d, store.ErrConflict)
		}
		_, err = t.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: &t.name, Key: key(pk, sk), ReturnConsumedCapacity: total,
			ConditionExpression:       aws.String("#v = :v"),
			ExpressionAttributeNames:  map[string]string{"#v": attrValue},
			ExpressionAttributeValues: item{":v": it[attrValue]},
		})
		if conditionFailed(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("dynamodb delete %s %s: %w", pk, sk, err)
		}
		return nil
	}
	return fmt.Errorf("tag %s:%s kept changing: %w", repo, name, store.ErrConflict)
}
