// Package streamtest stands in for DynamoDB Streams where the emulator
// has none (dynalite): a client whose writes are recorded as stream
// records (NEW_AND_OLD_IMAGES), read before and after each write. It is
// for tests that write one request at a time; concurrent writes to one
// item could interleave its images.
package streamtest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Recorder holds the records of the writes a Client made.
type Recorder struct {
	mu      sync.Mutex
	seq     int
	records []events.DynamoDBEventRecord
}

// Client returns a client on table whose successful PutItem, UpdateItem
// and DeleteItem requests are recorded in the returned Recorder.
func Client(base *dynamodb.Client, table string) (*dynamodb.Client, *Recorder) {
	rec := &Recorder{}
	c := dynamodb.New(base.Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("streamtest",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					k := keyOf(in.Parameters)
					if k == nil {
						return next.HandleInitialize(ctx, in)
					}
					old, err := read(ctx, base, table, k)
					if err != nil {
						return middleware.InitializeOutput{}, middleware.Metadata{}, err
					}
					out, md, err := next.HandleInitialize(ctx, in)
					if err != nil {
						return out, md, err
					}
					cur, err := read(ctx, base, table, k)
					if err != nil {
						return out, md, err
					}
					rec.add(k, old, cur)
					return out, md, nil
				}), middleware.After)
		})
	})
	return c, rec
}

// keyOf is the key a write request names, or nil for other requests.
func keyOf(params any) map[string]types.AttributeValue {
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		return map[string]types.AttributeValue{"pk": in.Item["pk"], "sk": in.Item["sk"]}
	case *dynamodb.UpdateItemInput:
		return in.Key
	case *dynamodb.DeleteItemInput:
		return in.Key
	}
	return nil
}

func read(ctx context.Context, c *dynamodb.Client, table string, k map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("streamtest: read %v: %w", k, err)
	}
	return out.Item, nil
}

func (r *Recorder) add(k, old, cur map[string]types.AttributeValue) {
	name := "MODIFY"
	switch {
	case old == nil && cur == nil:
		return
	case old == nil:
		name = "INSERT"
	case cur == nil:
		name = "REMOVE"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.records = append(r.records, events.DynamoDBEventRecord{
		EventID: strconv.Itoa(r.seq), EventName: name, EventSource: "aws:dynamodb", EventVersion: "1.1",
		AWSRegion: "us-east-1",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now().Truncate(time.Second)},
			Keys:                        image(k), OldImage: image(old), NewImage: image(cur),
			SequenceNumber: fmt.Sprintf("%021d", r.seq), StreamViewType: "NEW_AND_OLD_IMAGES",
		},
	})
}

// image converts an item's string, number and binary attributes (all
// the store writes) to a stream image.
func image(it map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if it == nil {
		return nil
	}
	out := map[string]events.DynamoDBAttributeValue{}
	for k, v := range it {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = events.NewStringAttribute(v.Value)
		case *types.AttributeValueMemberN:
			out[k] = events.NewNumberAttribute(v.Value)
		case *types.AttributeValueMemberB:
			out[k] = events.NewBinaryAttribute(v.Value)
		}
	}
	return out
}

// Take returns the records made since the last Take.
func (r *Recorder) Take() []events.DynamoDBEventRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.records
	r.records = nil
	return out
}
