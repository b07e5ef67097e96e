// Package dynamo implements store.Metadata and store.Identity in one
// DynamoDB table (single-table design, on demand). docs/storage.md holds
// the key design; in short, every item has a string partition key "pk"
// and sort key "sk":
//
//	REPOS                 <name>                   repository (the catalog is one Query)
//	REPO#<name>           M#<digest>               manifest (body inline as binary "body")
//	REPO#<name>           S#<subject>#<digest>     referrer: a copy of the manifest, so Referrers is one Query
//	REPO#<name>           T#<tag>                  tag, with the manifest's media type and size (HEAD by tag: one read)
//	REPO#<name>           L#<digest>               blob link, with the blob's size and key (blob GET/HEAD: one read)
//	BLOB#<alg>:<h>        <digest>                 blob record (create-if-absent), sharded by the digest's first hex digit h
//	UPLOAD#<id>           U                        upload session: "ver" for compare-and-set, "ttl" for expiry
//	TENANCIES             <name>                   tenancy
//	TENANCY#<tenancy>     U#<user> | G#<group> | P#<policy> | K#<user>#<token id> | F#<federation rule>
//	AUDIT#<tenancy>       <event id>               audit event (ids sort by time)
//
// retention.go lists the items of retention state (store.Retention).
//
// Each record is JSON in the attribute "v". Every write is one
// single-item (conditional where two writers can race) PutItem,
// UpdateItem or DeleteItem (retention's decisions are batched puts): no
// transactions, so the store also runs on emulators that
// lack them (dynalite). Reads are strongly consistent, so a push is
// visible to the request after it.
package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/berth-registry/berth/shared/store"
)

// Attribute names. The CDK stack (infra/) declares pk, sk and ttl.
const (
	attrPK      = "pk"
	attrSK      = "sk"
	attrValue   = "v"
	attrBody    = "body"
	attrVersion = "ver"
	attrTTL     = "ttl"
)

// Table is the metadata and identity store in one DynamoDB table.
type Table struct {
	client *dynamodb.Client
	name   string
	now    func() time.Time
}

var (
	_ store.Metadata = (*Table)(nil)
	_ store.Identity = (*Table)(nil)
)

// New returns the store on table through a copy of client. Every
// request it sends passes the key and item limits first (limits.go).
func New(client *dynamodb.Client, table string) *Table {
	return &Table{client: dynamodb.New(client.Options(), withLimits), name: table, now: time.Now}
}

// NewFromConfig returns the store on table through a client made from
// cfg and optFns, with the limits of New. It makes one client where New
// makes two: a function's start builds its client once.
func NewFromConfig(cfg aws.Config, table string, optFns ...func(*dynamodb.Options)) *Table {
	client := dynamodb.NewFromConfig(cfg, append(slices.Clip(optFns), withLimits)...)
	return &Table{client: client, name: table, now: time.Now}
}

// withLimits adds the limits' middleware to a client's options.
func withLimits(o *dynamodb.Options) {
	o.APIOptions = append(slices.Clip(o.APIOptions), limitsOption)
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// item is one DynamoDB item.
type item = map[string]types.AttributeValue

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func key(pk, sk string) item { return item{attrPK: str(pk), attrSK: str(sk)} }

// record builds an item holding v as JSON under pk/sk.
func record(pk, sk string, v any) (item, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	it := key(pk, sk)
	it[attrValue] = str(string(raw))
	return it, nil
}

// decode reads an item's JSON record into v.
func decode(it item, v any) error {
	s, ok := it[attrValue].(*types.AttributeValueMemberS)
	if !ok {
		return fmt.Errorf("item %s/%s has no record", skOf(it, attrPK), skOf(it, attrSK))
	}
	return json.Unmarshal([]byte(s.Value), v)
}

// skOf returns a string attribute of an item, or "".
func skOf(it item, name string) string {
	if s, ok := it[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// conditionFailed reports whether a conditional write lost.
func conditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

var total = types.ReturnConsumedCapacityTotal

// getItem reads one item (strongly consistent); ErrNotFound if absent.
func (t *Table) getItem(ctx context.Context, pk, sk string) (item, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &t.name, Key: key(pk, sk), ConsistentRead: aws.Bool(true), ReturnConsumedCapacity: total,
	})
	if err != nil {
		return nil, fmt.Errorf("dynamodb get %s %s: %w", pk, sk, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("%s %s: %w", pk, sk, store.ErrNotFound)
	}
	return out.Item, nil
}

// get reads one record into v.
func (t *Table) get(ctx context.Context, pk, sk string, v any) error {
	it, err := t.getItem(ctx, pk, sk)
	if err != nil {
		return err
	}
	return decode(it, v)
}

// write is one PutItem; cond, when set, is its condition expression
// (with values vals), and a lost condition returns lose.
func (t *Table) write(ctx context.Context, it item, cond string, vals item, lose error) error {
	in := &dynamodb.PutItemInput{TableName: &t.name, Item: it, ReturnConsumedCapacity: total}
	if cond != "" {
		in.ConditionExpression = &cond
		if len(vals) > 0 {
			in.ExpressionAttributeValues = vals
		}
	}
	_, err := t.client.PutItem(ctx, in)
	if cond != "" && conditionFailed(err) {
		return fmt.Errorf("%s %s: %w", skOf(it, attrPK), skOf(it, attrSK), lose)
	}
	if err != nil {
		return fmt.Errorf("dynamodb put %s %s: %w", skOf(it, attrPK), skOf(it, attrSK), err)
	}
	return nil
}

// put stores v under pk/sk unconditionally.
func (t *Table) put(ctx context.Context, pk, sk string, v any) error {
	it, err := record(pk, sk, v)
	if err != nil {
		return err
	}
	return t.write(ctx, it, "", nil, nil)
}

// create stores v under pk/sk unless an item is there (ErrExists).
func (t *Table) create(ctx context.Context, pk, sk string, v any) error {
	it, err := record(pk, sk, v)
	if err != nil {
		return err
	}
	return t.write(ctx, it, "attribute_not_exists(pk)", nil, store.ErrExists)
}

// del removes an item that exists, returning its old attributes;
// ErrNotFound if there was none.
func (t *Table) del(ctx context.Context, pk, sk string) (item, error) {
	var n int
	out, err := t.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &t.name, Key: key(pk, sk), ConditionExpression: aws.String("attribute_exists(pk)"),
		ReturnValues: types.ReturnValueAllOld, ReturnConsumedCapacity: total,
	}, attempts(&n))
	if conditionFailed(err) && n > 1 {
		// An earlier attempt may have deleted it: gone either way.
		return t.ambiguousOld(ctx, pk, sk)
	}
	if conditionFailed(err) {
		return nil, fmt.Errorf("%s %s: %w", pk, sk, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("dynamodb delete %s %s: %w", pk, sk, err)
	}
	return out.Attributes, nil
}

// query runs a Query on one partition, page after page (page items per
// request; 0 for DynamoDB's 1 MB pages), calling each for every item
// until it returns false or the items run out.
func (t *Table) query(ctx context.Context, in *dynamodb.QueryInput, page int, each func(item) (bool, error)) error {
	in.TableName, in.ConsistentRead, in.ReturnConsumedCapacity = &t.name, aws.Bool(true), total
	if page > 0 {
		in.Limit = aws.Int32(int32(min(page, 1<<20)))
	}
	for {
		out, err := t.client.Query(ctx, in)
		if err != nil {
			return fmt.Errorf("dynamodb query %s: %w", aws.ToString(in.KeyConditionExpression), err)
		}
		for _, it := range out.Items {
			more, err := each(it)
			if err != nil || !more {
				return err
			}
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// prefixQuery builds a Query for the items of partition pk whose sort
// key starts with prefix.
func prefixQuery(pk, prefix string) *dynamodb.QueryInput {
	if prefix == "" {
		// A key condition cannot hold an empty string.
		return &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: item{":pk": str(pk)},
		}
	}
	return &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: item{":pk": str(pk), ":p": str(prefix)},
	}
}

// listAll decodes every record of partition pk under prefix, in sort key
// order.
func listAll[T any](ctx context.Context, t *Table, pk, prefix string) ([]T, error) {
	var out []T
	err := t.query(ctx, prefixQuery(pk, prefix), 0, func(it item) (bool, error) {
		var v T
		if err := decode(it, &v); err != nil {
			return false, err
		}
		out = append(out, v)
		return true, nil
	})
	return out, err
}

// listAfter decodes up to limit items of partition pk whose sort keys are
// prefix+name, for names after the one given (exclusive; "" for the
// start), in order: one Query for the range [prefix+after, end of
// prefix], where a key equal to prefix+after is read and skipped.
// prefix ends in '#'; the key with '$' in its place ends the range.
func listAfter[T any](ctx context.Context, t *Table, pk, prefix, after string, limit int, dec func(item) (T, error)) ([]T, error) {
	if limit <= 0 {
		return nil, nil
	}
	lo, hi := prefix+after, prefix[:len(prefix)-1]+"$"
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: item{":pk": str(pk), ":lo": str(lo), ":hi": str(hi)},
	}
	var out []T
	err := t.query(ctx, in, limit+1, func(it item) (bool, error) {
		if after != "" && skOf(it, attrSK) == lo {
			return true, nil
		}
		v, err := dec(it)
		if err != nil {
			return false, err
		}
		out = append(out, v)
		return len(out) < limit, nil
	})
	return out, err
}

// unsupported reports whether an emulator lacks the operation.
func unsupported(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "UnknownOperationException", "NotImplemented", "InvalidAction":
		return true
	}
	return false
}

// ttlAlreadyOn reports UpdateTimeToLive refusing because TTL is already
// enabled (CreateTable's "if missing" run again on an existing table).
func ttlAlreadyOn(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" &&
		strings.Contains(ae.ErrorMessage(), "already enabled")
}
