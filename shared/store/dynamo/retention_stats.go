package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// Per-image sort key prefixes in a repository's partition.
const (
	skStats  = "I#"
	skPin    = "P#"
	skBinned = "X#"

	attrPulls      = "pulls"
	attrLastPulled = "lastPulled"
)

// update sends one UpdateItem and returns the item as it is after it;
// applied is false (and the error nil) when cond, if set, failed.
// names maps "#x" placeholders to attribute names (every attribute an
// expression uses goes through one: DynamoDB reserves hundreds of
// words).
func (t *Table) update(ctx context.Context, pk, sk, expr, cond string, names map[string]string, vals item) (item, bool, error) {
	in := &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(pk, sk), UpdateExpression: &expr, ReturnValues: types.ReturnValueAllNew,
		ExpressionAttributeNames: names, ReturnConsumedCapacity: total,
	}
	if len(vals) > 0 {
		in.ExpressionAttributeValues = vals
	}
	if cond != "" {
		in.ConditionExpression = &cond
	}
	out, err := t.client.UpdateItem(ctx, in)
	if cond != "" && conditionFailed(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("dynamodb update %s %s: %w", pk, sk, err)
	}
	return out.Attributes, true, nil
}

// numOf returns a number attribute of an item (0, false if absent).
func numOf(it item, name string) (int64, bool) {
	n, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

// nanos is t as an attribute: Unix nanoseconds (sortable, exact).
func nanos(t time.Time) types.AttributeValue { return num(t.UnixNano()) }

// timeOf returns a time attribute (zero if absent).
func timeOf(it item, name string) time.Time {
	if n, ok := numOf(it, name); ok {
		return time.Unix(0, n).UTC()
	}
	return time.Time{}
}

// statsOf decodes an image statistics item: counters as attributes of
// their own (RecordPull adds to them), marks as JSON in "v" (absent on
// an image pulled but never marked).
func statsOf(repo string, it item) (store.ImageStats, error) {
	s := store.ImageStats{Repo: repo, Digest: digest.Digest(strings.TrimPrefix(skOf(it, attrSK), skStats))}
	if v := skOf(it, attrValue); v != "" {
		if err := json.Unmarshal([]byte(v), &s.ImageMarks); err != nil {
			return s, fmt.Errorf("image stats %s@%s: %w", repo, s.Digest, err)
		}
	}
	s.Pulls, _ = numOf(it, attrPulls)
	s.LastPulled = timeOf(it, attrLastPulled)
	return s, nil
}

// RecordPull implements store.PullStats with one UpdateItem that adds
// to the count, moves lastPulled forward, and returns the whole record
// (marks and notice included, so a pull's warning costs no read).
// DynamoDB has no max(): moving lastPulled is conditional on it being
// older, and the rare pull that loses (an older time arriving after a
// newer one: two Lambdas racing) is counted by a second UpdateItem that
// leaves the time alone.
func (t *Table) RecordPull(ctx context.Context, repo string, d digest.Digest, at time.Time) (store.ImageStats, error) {
	pk, sk := repoPK(repo), skStats+d.String()
	vals := item{":one": num(1), ":t": nanos(at)}
	it, ok, err := t.update(ctx, pk, sk, "ADD #n :one SET #l = :t", "attribute_not_exists(#l) OR #l <= :t",
		map[string]string{"#n": attrPulls, "#l": attrLastPulled}, vals)
	if err == nil && !ok {
		it, _, err = t.update(ctx, pk, sk, "ADD #n :one", "", map[string]string{"#n": attrPulls}, item{":one": num(1)})
	}
	if err != nil {
		return store.ImageStats{}, err
	}
	return statsOf(repo, it)
}

// GetImageStats implements store.PullStats: one GetItem; an image with
// no record has zero statistics.
func (t *Table) GetImageStats(ctx context.Context, repo string, d digest.Digest) (store.ImageStats, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &t.name, Key: key(repoPK(repo), skStats+d.String()), ConsistentRead: aws.Bool(true), ReturnConsumedCapacity: total,
	})
	if err != nil {
		return store.ImageStats{}, fmt.Errorf("dynamodb get image stats %s@%s: %w", repo, d, err)
	}
	if out.Item == nil {
		return store.ImageStats{Repo: repo, Digest: d}, nil
	}
	return statsOf(repo, out.Item)
}

// ListImageStats implements store.PullStats with one Query (see
// listAfter).
func (t *Table) ListImageStats(ctx context.Context, repo string, after digest.Digest, limit int) ([]store.ImageStats, error) {
	return listAfter(ctx, t, repoPK(repo), skStats, after.String(), limit, func(it item) (store.ImageStats, error) {
		return statsOf(repo, it)
	})
}

// MarkImages implements store.PullStats: one UpdateItem per image that
// replaces "v" (the marks) and leaves the pull counters alone, so a
// pull racing a run loses neither.
func (t *Table) MarkImages(ctx context.Context, repo string, marks []store.ImageMark) error {
	for _, mk := range marks {
		raw, err := json.Marshal(mk.ImageMarks)
		if err != nil {
			return err
		}
		_, _, err = t.update(ctx, repoPK(repo), skStats+mk.Digest.String(), "SET #v = :v", "",
			map[string]string{"#v": attrValue}, item{":v": str(string(raw))})
		if err != nil {
			return err
		}
	}
	return nil
}

// DeleteImageStats implements store.PullStats (absent is no error).
func (t *Table) DeleteImageStats(ctx context.Context, repo string, d digest.Digest) error {
	_, err := t.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &t.name, Key: key(repoPK(repo), skStats+d.String()), ReturnConsumedCapacity: total,
	})
	if err != nil {
		return fmt.Errorf("dynamodb delete image stats %s@%s: %w", repo, d, err)
	}
	return nil
}

// PutPin implements store.Pins.
func (t *Table) PutPin(ctx context.Context, p store.Pin) error {
	return t.put(ctx, repoPK(p.Repo), skPin+p.Digest.String(), p)
}

// DeletePin implements store.Pins.
func (t *Table) DeletePin(ctx context.Context, repo string, d digest.Digest) error {
	_, err := t.del(ctx, repoPK(repo), skPin+d.String())
	return err
}

// ListPins implements store.Pins: one Query.
func (t *Table) ListPins(ctx context.Context, repo string) ([]store.Pin, error) {
	return listAll[store.Pin](ctx, t, repoPK(repo), skPin)
}
