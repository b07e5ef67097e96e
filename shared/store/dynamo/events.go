package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/berth-registry/berth/shared/store"
)

// Events ride writes (store.WithEvent, docs/events.md "Delivery"): a
// write that carries one sets it on the item it writes, in the same
// request, so the table's change stream shows it exactly when the write
// committed.
//
//   - A put or update sets "evt"; the stream's publisher sends the NEW
//     image's "evt" when it differs from the OLD image's (an update that
//     leaves "evt" alone publishes nothing).
//   - A delete cannot set attributes, so it is two requests: an update
//     that stamps "evtrm" on the item, then a delete conditional on that
//     stamp. The REMOVE record's OLD image holds the stamp, and only a
//     REMOVE publishes "evtrm". A crash between the two leaves a live
//     item with a stamp, which publishes nothing; a delete that loses
//     the condition (another writer stamped or replaced the item
//     between) stamps again, so the event is always the deleter's.
const (
	attrEvent       = store.EventAttribute
	attrEventRemove = store.RemoveEventAttribute
)

// withEvent sets on it the event ctx carries, if any.
func withEvent(ctx context.Context, it item) item {
	if ev := store.EventFrom(ctx); ev != nil {
		it[attrEvent] = str(string(ev))
	}
	return it
}

// delEv is del carrying the event ctx carries, if any (see above).
func (t *Table) delEv(ctx context.Context, pk, sk string) (item, error) {
	ev := store.EventFrom(ctx)
	if ev == nil {
		return t.del(ctx, pk, sk)
	}
	stamp := str(string(ev))
	for range 5 {
		_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &t.name, Key: key(pk, sk),
			UpdateExpression:          aws.String("SET " + attrEventRemove + " = :e"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeValues: item{":e": stamp},
			ReturnConsumedCapacity:    total,
		})
		if conditionFailed(err) {
			return nil, fmt.Errorf("%s %s: %w", pk, sk, store.ErrNotFound)
		} else if err != nil {
			return nil, fmt.Errorf("dynamodb stamp %s %s: %w", pk, sk, err)
		}
		var n int
		out, err := t.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: &t.name, Key: key(pk, sk),
			ConditionExpression:       aws.String(attrEventRemove + " = :e"),
			ExpressionAttributeValues: item{":e": stamp},
			ReturnValues:              types.ReturnValueAllOld, ReturnConsumedCapacity: total,
		}, attempts(&n))
		if conditionFailed(err) && n > 1 {
			if _, gerr := t.getItem(ctx, pk, sk); errors.Is(gerr, store.ErrNotFound) {
				return t.ambiguousOld(ctx, pk, sk) // an earlier attempt deleted it
			}
		}
		if conditionFailed(err) {
			continue // stamped or replaced by another writer meanwhile
		} else if err != nil {
			return nil, fmt.Errorf("dynamodb delete %s %s: %w", pk, sk, err)
		}
		return out.Attributes, nil
	}
	return nil, fmt.Errorf("%s %s kept changing while being deleted: %w", pk, sk, store.ErrConflict)
}

// putEv stores v under pk/sk carrying the event ctx carries.
func (t *Table) putEv(ctx context.Context, pk, sk string, v any) error {
	it, err := record(pk, sk, v)
	if err != nil {
		return err
	}
	return t.write(ctx, withEvent(ctx, it), "", nil, nil)
}
