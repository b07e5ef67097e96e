package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/berth-registry/berth/shared/store"
)

// A run's item keeps its count of finished jobs in "done" (an atomic
// ADD) and, once finished, the time in "fin" (FinishRun's condition); a
// job's outcome item marks that it was counted with "counted".
const (
	attrDone     = "done"
	attrFinished = "fin"
	attrCounted  = "counted"
)

// decodeRun reads a run item: its record and its count.
func decodeRun(it item) (store.RetentionRun, error) {
	var r store.RetentionRun
	if err := decode(it, &r); err != nil {
		return r, err
	}
	if n, ok := it[attrDone].(*types.AttributeValueMemberN); ok {
		r.Done, _ = strconv.Atoi(n.Value)
	}
	return r, nil
}

// PutRunRepo implements store.RetentionRuns: an UpdateItem of the
// record, so a job run again keeps its count mark (CountRunRepo).
func (t *Table) PutRunRepo(ctx context.Context, r store.RunRepo) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(runPK(r.Tenancy, r.RunID), skRunRepo+r.Repo),
		UpdateExpression:          aws.String("SET " + attrValue + " = :v"),
		ExpressionAttributeValues: item{":v": str(string(raw))},
		ReturnConsumedCapacity:    total,
	})
	if err != nil {
		return fmt.Errorf("dynamodb update run %s outcome %s: %w", r.RunID, r.Repo, err)
	}
	return nil
}

// CountRunRepo implements store.RunProgress with two single-item
// writes: mark the outcome counted (conditional on no mark), then ADD
// one to the run's "done". A crash between the two leaves the job
// uncounted, so the run is never finished by its jobs; the next hourly
// run finishes it from its outcomes (retention.Service.Hourly).
func (t *Table) CountRunRepo(ctx context.Context, tenancy, runID, repo string) (store.RetentionRun, bool, error) {
	_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(runPK(tenancy, runID), skRunRepo+repo),
		UpdateExpression:          aws.String("SET " + attrCounted + " = :one"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(" + attrCounted + ")"),
		ExpressionAttributeValues: item{":one": num(1)},
		ReturnConsumedCapacity:    total,
	})
	if conditionFailed(err) {
		if _, err := t.getItem(ctx, runPK(tenancy, runID), skRunRepo+repo); err != nil {
			return store.RetentionRun{}, false, fmt.Errorf("outcome of %s in run %s: %w", repo, runID, err)
		}
		r, err := t.GetRun(ctx, tenancy, runID)
		return r, false, err
	} else if err != nil {
		return store.RetentionRun{}, false, fmt.Errorf("dynamodb count run %s outcome %s: %w", runID, repo, err)
	}
	out, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(pkRunsPrefix+tenancy, runID),
		UpdateExpression:          aws.String("ADD " + attrDone + " :one"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: item{":one": num(1)},
		ReturnValues:              types.ReturnValueAllNew, ReturnConsumedCapacity: total,
	})
	if conditionFailed(err) {
		return store.RetentionRun{}, false, fmt.Errorf("run %s: %w", runID, store.ErrNotFound)
	} else if err != nil {
		return store.RetentionRun{}, false, fmt.Errorf("dynamodb count run %s: %w", runID, err)
	}
	r, err := decodeRun(out.Attributes)
	return r, true, err
}

// FinishRun implements store.RunProgress: one UpdateItem conditional on
// no "fin", carrying the event ctx carries.
func (t *Table) FinishRun(ctx context.Context, r store.RetentionRun) error {
	cur, err := t.GetRun(ctx, r.Tenancy, r.ID)
	if err != nil {
		return err
	}
	cur.Finished, cur.Summary = r.Finished, r.Summary
	cur.Done = 0 // kept in its own attribute
	raw, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	expr, vals := "SET "+attrValue+" = :v, "+attrFinished+" = :fin", item{":v": str(string(raw)), ":fin": num(r.Finished.UnixNano())}
	if ev := store.EventFrom(ctx); ev != nil {
		expr += ", " + attrEvent + " = :e"
		vals[":e"] = str(string(ev))
	}
	_, err = t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(pkRunsPrefix+r.Tenancy, r.ID),
		UpdateExpression:          &expr,
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(" + attrFinished + ")"),
		ExpressionAttributeValues: vals,
		ReturnConsumedCapacity:    total,
	})
	if conditionFailed(err) {
		if _, gerr := t.GetRun(ctx, r.Tenancy, r.ID); errors.Is(gerr, store.ErrNotFound) {
			return gerr
		}
		return fmt.Errorf("run %s finished already: %w", r.ID, store.ErrConflict)
	} else if err != nil {
		return fmt.Errorf("dynamodb finish run %s: %w", r.ID, err)
	}
	return nil
}
