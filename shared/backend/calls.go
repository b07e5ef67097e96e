package backend

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Calls counts the AWS API requests the stores send, by service and
// operation ("DynamoDB.GetItem", "S3.PutObject"), and the DynamoDB
// capacity they report consuming: what a registry operation costs,
// counted rather than guessed. Presigning sends nothing and counts
// nothing; a retried request counts once per attempt.
type Calls struct {
	mu  sync.Mutex
	cur Count
}

// Count is a snapshot of Calls.
type Count struct {
	// N is requests by "<service>.<operation>".
	N map[string]int
	// ReadUnits and WriteUnits are the DynamoDB capacity units consumed.
	ReadUnits, WriteUnits float64
}

// NewCalls returns a zeroed counter.
func NewCalls() *Calls { return &Calls{cur: Count{N: map[string]int{}}} }

// Option installs the counter in an SDK configuration: append it to
// aws.Config.APIOptions before making clients.
func (c *Calls) Option(stack *middleware.Stack) error {
	// In the deserialize step, after the response: only requests that
	// were sent are counted (presigning stops before sending).
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("berth.CountCalls",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			c.record(awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx), out.Result)
			return out, md, err
		}), middleware.Before)
}

func (c *Calls) record(op string, result any) {
	var cc *types.ConsumedCapacity
	switch r := result.(type) {
	case *dynamodb.GetItemOutput:
		cc = r.ConsumedCapacity
	case *dynamodb.QueryOutput:
		cc = r.ConsumedCapacity
	case *dynamodb.PutItemOutput:
		cc = r.ConsumedCapacity
	case *dynamodb.DeleteItemOutput:
		cc = r.ConsumedCapacity
	case *dynamodb.UpdateItemOutput:
		cc = r.ConsumedCapacity
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur.N[op]++
	if cc != nil && cc.CapacityUnits != nil {
		if isDynamoRead(op) {
			c.cur.ReadUnits += *cc.CapacityUnits
		} else {
			c.cur.WriteUnits += *cc.CapacityUnits
		}
	}
}

// Snapshot returns the counts so far.
func (c *Calls) Snapshot() Count {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Count{N: maps.Clone(c.cur.N), ReadUnits: c.cur.ReadUnits, WriteUnits: c.cur.WriteUnits}
}

// Since returns what was counted after the snapshot prev.
func (c Count) Since(prev Count) Count {
	d := Count{N: map[string]int{}, ReadUnits: c.ReadUnits - prev.ReadUnits, WriteUnits: c.WriteUnits - prev.WriteUnits}
	for k, v := range c.N {
		if n := v - prev.N[k]; n != 0 {
			d.N[k] = n
		}
	}
	return d
}

func isDynamoRead(op string) bool {
	switch op {
	case "DynamoDB.GetItem", "DynamoDB.Query", "DynamoDB.Scan", "DynamoDB.BatchGetItem":
		return true
	}
	return false
}

// DynamoReads is the number of DynamoDB read requests.
func (c Count) DynamoReads() int { return c.sum(func(op string) bool { return isDynamoRead(op) }) }

// DynamoWrites is the number of other DynamoDB requests (writes).
func (c Count) DynamoWrites() int {
	return c.sum(func(op string) bool { return strings.HasPrefix(op, "DynamoDB.") && !isDynamoRead(op) })
}

// S3 is the number of S3 requests.
func (c Count) S3() int { return c.sum(func(op string) bool { return strings.HasPrefix(op, "S3.") }) }

func (c Count) sum(match func(string) bool) int {
	n := 0
	for op, v := range c.N {
		if match(op) {
			n += v
		}
	}
	return n
}

// String lists the counts, e.g. "DynamoDB.GetItem=1 S3.PutObject=2".
func (c Count) String() string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(c.N)) {
		parts = append(parts, fmt.Sprintf("%s=%d", op, c.N[op]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
