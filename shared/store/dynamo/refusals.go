package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/berth-registry/berth/shared/store"
)

// Refused logins are counted in TENANCY#<tenancy> / LR#<window start,
// Unix seconds>: "cnt" (an atomic ADD), "alerted" once the window's
// event is raised, and "ttl" so DynamoDB deletes old windows.
const (
	skRefusals   = "LR#"
	attrAlerted  = "alerted"
	attrRefusals = "cnt"
)

var _ store.LoginRefusals = (*Table)(nil)

func refusalsKey(tenancy string, start time.Time) item {
	return key(tenancyPK(tenancy), skRefusals+strconv.FormatInt(start.Unix(), 10))
}

// CountRefusal implements store.LoginRefusals: one UpdateItem.
func (t *Table) CountRefusal(ctx context.Context, tenancy string, start, expires time.Time) (int, error) {
	out, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: refusalsKey(tenancy, start),
		UpdateExpression:          aws.String("ADD " + attrRefusals + " :one SET #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#ttl": attrTTL}, // a reserved word
		ExpressionAttributeValues: item{":one": num(1), ":ttl": num(expires.Unix())},
		ReturnValues:              types.ReturnValueUpdatedNew, ReturnConsumedCapacity: total,
	})
	if err != nil {
		return 0, fmt.Errorf("dynamodb count refused login in %s: %w", tenancy, err)
	}
	n, ok := out.Attributes[attrRefusals].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("refused logins of %s: no count returned", tenancy)
	}
	c, err := strconv.Atoi(n.Value)
	return c, err
}

// MarkRefusalAlert implements store.LoginRefusals: one UpdateItem
// conditional on no alert, carrying the event ctx carries.
func (t *Table) MarkRefusalAlert(ctx context.Context, tenancy string, start time.Time) error {
	expr, vals := "SET "+attrAlerted+" = :one", item{":one": num(1)}
	if ev := store.EventFrom(ctx); ev != nil {
		expr += ", " + attrEvent + " = :e"
		vals[":e"] = str(string(ev))
	}
	_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: refusalsKey(tenancy, start),
		UpdateExpression:          &expr,
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(" + attrAlerted + ")"),
		ExpressionAttributeValues: vals, ReturnConsumedCapacity: total,
	})
	if conditionFailed(err) {
		return fmt.Errorf("refused logins of %s at %s: %w", tenancy, start, store.ErrExists)
	} else if err != nil {
		return fmt.Errorf("dynamodb mark refused logins of %s: %w", tenancy, err)
	}
	return nil
}
