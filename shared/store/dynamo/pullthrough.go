package dynamo

// Pull-through cache state (store.Cache) lives in the same table:
//
//	TENANCY#<tenancy>     CR#<prefix>              cache rule ("ver": its version, for compare-and-set)
//	REPO#<name>           F#<ref>                  fill claim ("own": its owner, "exp": its expiry in Unix nanoseconds, "ttl")
//
// A claim is taken with one conditional PutItem (absent, or expired by
// the claimant's clock) and given back with one conditional DeleteItem
// (still the owner's); DynamoDB's TTL removes those whose holder died.

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/berth-registry/berth/shared/store"
)

const (
	skCacheRule = "CR#"
	skFill      = "F#"
	// attrOwner is a claim's owner, attrExpires its expiry (Unix ns).
	attrOwner   = "own"
	attrExpires = "exp"
)

var _ store.Cache = (*Table)(nil)

// PutCacheRule implements store.CacheRules: version 1 creates
// (attribute_not_exists, else ErrExists), a later version replaces the
// stored one only if it is r.Version-1 (else ErrConflict).
func (t *Table) PutCacheRule(ctx context.Context, r store.CacheRule) error {
	it, err := record(tenancyPK(r.Tenancy), skCacheRule+r.Prefix, r)
	if err != nil {
		return err
	}
	it[attrVersion] = num(r.Version)
	if r.Version == 1 {
		return t.write(ctx, it, "attribute_not_exists(pk)", nil, store.ErrExists)
	}
	return t.write(ctx, it, attrVersion+" = :prev", item{":prev": num(r.Version - 1)}, store.ErrConflict)
}

// GetCacheRule implements store.CacheRules.
func (t *Table) GetCacheRule(ctx context.Context, tenancy, prefix string) (store.CacheRule, error) {
	var r store.CacheRule
	return r, t.get(ctx, tenancyPK(tenancy), skCacheRule+prefix, &r)
}

// ListCacheRules implements store.CacheRules with one Query.
func (t *Table) ListCacheRules(ctx context.Context, tenancy string) ([]store.CacheRule, error) {
	return listAll[store.CacheRule](ctx, t, tenancyPK(tenancy), skCacheRule)
}

// DeleteCacheRule implements store.CacheRules.
func (t *Table) DeleteCacheRule(ctx context.Context, tenancy, prefix string) error {
	_, err := t.del(ctx, tenancyPK(tenancy), skCacheRule+prefix)
	return err
}

// fillItem is a claim's item: the record, its owner and expiry as
// attributes the conditions compare, and the TTL attribute.
func fillItem(f store.Fill) (item, error) {
	it, err := record(repoPK(f.Repo), skFill+f.Ref, f)
	if err != nil {
		return nil, err
	}
	it[attrOwner] = str(f.Owner)
	it[attrExpires] = num(f.Expires.UnixNano())
	it[attrTTL] = num(f.Expires.Unix() + 1)
	return it, nil
}

// ClaimFill implements store.Fills: one PutItem, conditional on no
// claim or an expired one.
func (t *Table) ClaimFill(ctx context.Context, f store.Fill) error {
	it, err := fillItem(f)
	if err != nil {
		return err
	}
	return t.write(ctx, it, "attribute_not_exists(pk) OR "+attrExpires+" < :now",
		item{":now": num(t.now().UnixNano())}, store.ErrExists)
}

// GetFill implements store.Fills; an expired claim (DynamoDB deletes
// lazily) is ErrNotFound.
func (t *Table) GetFill(ctx context.Context, repo, ref string) (store.Fill, error) {
	var f store.Fill
	if err := t.get(ctx, repoPK(repo), skFill+ref, &f); err != nil {
		return store.Fill{}, err
	}
	if t.now().After(f.Expires) {
		return store.Fill{}, fmt.Errorf("fill of %s %s expired at %v: %w", repo, ref, f.Expires, store.ErrNotFound)
	}
	return f, nil
}

// UpdateFill implements store.Fills: one PutItem, conditional on the
// owner.
func (t *Table) UpdateFill(ctx context.Context, f store.Fill) error {
	it, err := fillItem(f)
	if err != nil {
		return err
	}
	return t.write(ctx, it, attrOwner+" = :o", item{":o": str(f.Owner)}, store.ErrConflict)
}

// ReleaseFill implements store.Fills: one DeleteItem, conditional on the
// owner.
func (t *Table) ReleaseFill(ctx context.Context, repo, ref, owner string) error {
	_, err := t.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &t.name, Key: key(repoPK(repo), skFill+ref), ReturnConsumedCapacity: total,
		ConditionExpression:       aws.String(attrOwner + " = :o"),
		ExpressionAttributeValues: item{":o": str(owner)},
	})
	if conditionFailed(err) {
		return fmt.Errorf("fill of %s %s is not %s's: %w", repo, ref, owner, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("dynamodb delete %s %s: %w", repoPK(repo), skFill+ref, err)
	}
	return nil
}
