package dynamo

// Retention state (store.Retention) lives in the same table:
//
//	TENANCY#<tenancy>     RP#<policy>              retention policy ("ver": its version, for compare-and-set)
//	TENANCY#<tenancy>     RA#<repo>                assignment ("pol": the policy, checked by Assign)
//	REPO#<name>           I#<digest>               image statistics ("pulls", "lastPulled"; marks JSON in "v")
//	REPO#<name>           P#<digest>               pin
//	REPO#<name>           X#<digest>               binned image (body binary, overflow items like a manifest's)
//	RUNS#<tenancy>        <run id>                 run (ids sort by start: ListRuns is one Query, descending)
//	RUN#<tenancy>#<id>    R#<repo> | D#<repo>@<digest>   a run's repository outcome | decision
//	BLOB#<alg>:<h>        <digest>                 blob record, sharded by the first hex digit h ("touched", "condemned")
//
// Values a condition compares are attributes of their own beside the
// JSON in "v": times in Unix nanoseconds. Every write is one single-item
// request (PutDecisions batches them, 25 to a BatchWriteItem); none is a
// transaction.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/berth-registry/berth/shared/store"
)

// Retention partitions and sort key prefixes (see above).
const (
	skRetPolicy  = "RP#"
	skRetAssign  = "RA#"
	pkRunsPrefix = "RUNS#"
	pkRunPrefix  = "RUN#"
	skRunRepo    = "R#"
	skDecision   = "D#"

	// attrPolicy is an assignment's policy name.
	attrPolicy = "pol"
)

var _ store.Retention = (*Table)(nil)

// SetClock replaces the clock that stamps links, touches and upload
// expiry checks (tests that move time).
func (t *Table) SetClock(now func() time.Time) { t.now = now }

func runPK(tenancy, id string) string { return pkRunPrefix + tenancy + "#" + id }

// PutRetentionPolicy implements store.RetentionPolicies: version 1
// creates (attribute_not_exists, else ErrExists), a later version
// replaces the stored one only if it is p.Version-1 (else ErrConflict,
// an absent policy included). It carries an event.
func (t *Table) PutRetentionPolicy(ctx context.Context, p store.RetentionPolicy) error {
	it, err := record(tenancyPK(p.Tenancy), skRetPolicy+p.Name, p)
	if err != nil {
		return err
	}
	it[attrVersion] = num(p.Version)
	it = withEvent(ctx, it)
	if p.Version == 1 {
		return t.write(ctx, it, "attribute_not_exists(pk)", nil, store.ErrExists)
	}
	return t.write(ctx, it, attrVersion+" = :prev", item{":prev": num(p.Version - 1)}, store.ErrConflict)
}

// GetRetentionPolicy implements store.RetentionPolicies.
func (t *Table) GetRetentionPolicy(ctx context.Context, tenancy, name string) (store.RetentionPolicy, error) {
	var p store.RetentionPolicy
	return p, t.get(ctx, tenancyPK(tenancy), skRetPolicy+name, &p)
}

// ListRetentionPolicies implements store.RetentionPolicies.
func (t *Table) ListRetentionPolicies(ctx context.Context, tenancy string) ([]store.RetentionPolicy, error) {
	return listAll[store.RetentionPolicy](ctx, t, tenancyPK(tenancy), skRetPolicy)
}

// DeleteRetentionPolicy implements store.RetentionPolicies; it carries
// an event.
func (t *Table) DeleteRetentionPolicy(ctx context.Context, tenancy, name string) error {
	_, err := t.delEv(ctx, tenancyPK(tenancy), skRetPolicy+name)
	return err
}

// Assign implements store.RetentionAssignments: a create-if-absent put,
// so of two admins assigning one repository to different policies one
// gets ErrExists. When the repository is assigned already, a read tells
// the same policy (no error, the first record kept) from another. The
// event ctx carries rides the create only.
func (t *Table) Assign(ctx context.Context, a store.Assignment) error {
	pk, sk := tenancyPK(a.Tenancy), skRetAssign+a.Repo
	it, err := record(pk, sk, a)
	if err != nil {
		return err
	}
	it[attrPolicy] = str(a.Policy)
	it = withEvent(ctx, it)
	for range 3 {
		err := t.write(ctx, it, "attribute_not_exists(pk)", nil, store.ErrExists)
		if !errors.Is(err, store.ErrExists) {
			return err
		}
		cur, err := t.GetAssignment(ctx, a.Tenancy, a.Repo)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue // unassigned meanwhile: try again
		case err != nil:
			return err
		case cur.Policy == a.Policy:
			return nil
		default:
			return fmt.Errorf("repository %s is under policy %q: %w", a.Repo, cur.Policy, store.ErrExists)
		}
	}
	return fmt.Errorf("assignment of %s kept changing: %w", a.Repo, store.ErrConflict)
}

// Unassign implements store.RetentionAssignments; it carries an event.
func (t *Table) Unassign(ctx context.Context, tenancy, repo string) error {
	_, err := t.delEv(ctx, tenancyPK(tenancy), skRetAssign+repo)
	return err
}

// GetAssignment implements store.RetentionAssignments.
func (t *Table) GetAssignment(ctx context.Context, tenancy, repo string) (store.Assignment, error) {
	var a store.Assignment
	return a, t.get(ctx, tenancyPK(tenancy), skRetAssign+repo, &a)
}

// ListAssignments implements store.RetentionAssignments.
func (t *Table) ListAssignments(ctx context.Context, tenancy string) ([]store.Assignment, error) {
	return listAll[store.Assignment](ctx, t, tenancyPK(tenancy), skRetAssign)
}

// CreateRun implements store.RetentionRuns.
func (t *Table) CreateRun(ctx context.Context, r store.RetentionRun) error {
	return t.create(ctx, pkRunsPrefix+r.Tenancy, r.ID, r)
}

// GetRun implements store.RetentionRuns.
func (t *Table) GetRun(ctx context.Context, tenancy, id string) (store.RetentionRun, error) {
	it, err := t.getItem(ctx, pkRunsPrefix+tenancy, id)
	if err != nil {
		return store.RetentionRun{}, err
	}
	return decodeRun(it)
}

// ListRuns implements store.RetentionRuns: one Query, newest first.
func (t *Table) ListRuns(ctx context.Context, tenancy, before string, limit int) ([]store.RetentionRun, error) {
	if limit <= 0 {
		return nil, nil
	}
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: item{":pk": str(pkRunsPrefix + tenancy)},
		ScanIndexForward:          aws.Bool(false),
	}
	if before != "" {
		in.KeyConditionExpression = aws.String("pk = :pk AND sk < :before")
		in.ExpressionAttributeValues[":before"] = str(before)
	}
	var out []store.RetentionRun
	err := t.query(ctx, in, limit, func(it item) (bool, error) {
		r, err := decodeRun(it)
		if err != nil {
			return false, err
		}
		out = append(out, r)
		return len(out) < limit, nil
	})
	return out, err
}

// ListRunRepos implements store.RetentionRuns: one Query.
func (t *Table) ListRunRepos(ctx context.Context, tenancy, runID string) ([]store.RunRepo, error) {
	return listAll[store.RunRepo](ctx, t, runPK(tenancy, runID), skRunRepo)
}

// batchMax is the most items one BatchWriteItem takes.
const batchMax = 25

// PutDecisions implements store.RetentionDecisions with BatchWriteItem,
// 25 puts a request (a run writes thousands), retrying what DynamoDB
// leaves unprocessed. A batch must not name an item twice, so a
// decision repeated in ds is written once (the last one).
func (t *Table) PutDecisions(ctx context.Context, ds []store.Decision) error {
	var batch []types.WriteRequest
	seen := map[string]int{} // sort key → index in batch
	for _, d := range ds {
		it, err := record(runPK(d.Tenancy, d.RunID), skDecision+store.DecisionCursor(d), d)
		if err != nil {
			return err
		}
		k := skOf(it, attrPK) + "\x00" + skOf(it, attrSK)
		if i, ok := seen[k]; ok {
			batch[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
			continue
		}
		seen[k] = len(batch)
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		if len(batch) == batchMax {
			if err := t.batchWrite(ctx, batch); err != nil {
				return err
			}
			batch, seen = nil, map[string]int{}
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return t.batchWrite(ctx, batch)
}

// batchWrite sends one BatchWriteItem and resends its unprocessed items
// (throttling) with backoff.
func (t *Table) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	wait := 20 * time.Millisecond
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt > 0 {
			if attempt > 8 {
				return fmt.Errorf("dynamodb batch write: %d items still unprocessed", len(reqs))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, 2*time.Second)
		}
		out, err := t.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{t.name: reqs}, ReturnConsumedCapacity: total,
		})
		if err != nil {
			return fmt.Errorf("dynamodb batch write: %w", err)
		}
		reqs = out.UnprocessedItems[t.name]
	}
	return nil
}

// ListDecisions implements store.RetentionDecisions with one Query (see
// listAfter): sort keys are "D#" + the decision's cursor.
func (t *Table) ListDecisions(ctx context.Context, tenancy, runID, after string, limit int) ([]store.Decision, error) {
	return listAfter(ctx, t, runPK(tenancy, runID), skDecision, after, limit, func(it item) (store.Decision, error) {
		var d store.Decision
		return d, decode(it, &d)
	})
}
