package dynamo_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/dynamo"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
)

// TestKeysOverDynamoDBLimitsAreNeverSent: a name, id or cursor past
// DynamoDB's key limits (partition key 2,048 bytes, sort key 1,024) or an
// item past 400 KB is refused by the store before a request is sent —
// real DynamoDB would answer a ValidationException, and dynalite does
// not check a Query's key condition at all. A read of such a key is
// ErrNotFound (no item can have it, as on the embedded store), a write
// or a sort-key cursor is ErrInvalid, and a Query of a partition no item
// can be in is an empty page.
func TestKeysOverDynamoDBLimitsAreNeverSent(t *testing.T) {
	var sent atomic.Int64
	client := dynalite.Client(dynalite.Endpoint(t))
	client = dynamodb.New(client.Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("count", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				sent.Add(1)
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
		})
	})
	tbl := dynamo.New(client, dynalite.TableName("berth-limits"))
	ctx := t.Context()
	if err := tbl.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	long, huge := strings.Repeat("a", 1100), strings.Repeat("a", 2100)
	now := time.Now().UTC()
	for _, tc := range []struct {
		name string
		call func() error
		want []error // nil: no error
	}{
		{"GetUser with a 1,100-byte name", func() error { _, err := tbl.GetUser(ctx, "dev", long); return err }, []error{store.ErrNotFound, store.ErrInvalid}},
		{"GetTenancy with a 2,100-byte name", func() error { _, err := tbl.GetTenancy(ctx, huge); return err }, []error{store.ErrNotFound}},
		{"GetToken of a 2,100-byte tenancy", func() error { _, err := tbl.GetToken(ctx, huge, "admin", "x"); return err }, []error{store.ErrNotFound}},
		{"DeleteGroup with a 1,100-byte name", func() error { return tbl.DeleteGroup(ctx, "dev", long) }, []error{store.ErrNotFound}},
		{"PutUser with a 1,100-byte name", func() error { return tbl.PutUser(ctx, store.User{Tenancy: "dev", Name: long, Created: now}) }, []error{store.ErrInvalid}},
		{"PutPolicy of 500 KB", func() error {
			return tbl.PutPolicy(ctx, store.Policy{Tenancy: "dev", Name: "big", Statements: []string{strings.Repeat("x", 500<<10)}, Updated: now})
		}, []error{store.ErrInvalid}},
		{"ListAudit before a 1,100-byte cursor", func() error { _, err := tbl.ListAudit(ctx, "dev", long, 10); return err }, []error{store.ErrInvalid}},
		{"ListTags after a 1,100-byte tag", func() error { _, err := tbl.ListTags(ctx, "dev/app", long, 10); return err }, []error{store.ErrInvalid}},
		{"ListUsers of a 2,100-byte tenancy", func() error {
			us, err := tbl.ListUsers(ctx, huge)
			if err == nil && len(us) != 0 {
				t.Errorf("ListUsers: %d users", len(us))
			}
			return err
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := sent.Load()
			err := tc.call()
			if n := sent.Load() - before; n != 0 {
				t.Errorf("%d requests sent", n)
			}
			if tc.want == nil && err != nil {
				t.Errorf("error %v, want none", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %v, want %v", err, w)
				}
			}
		})
	}
	// The limits themselves are allowed, and sent.
	before := sent.Load()
	if _, err := tbl.GetTenancy(ctx, strings.Repeat("a", 1024)); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		t.Errorf("GetTenancy with a 1,024-byte sort key: %v, want a plain ErrNotFound", err)
	}
	if sent.Load() == before {
		t.Error("a 1,024-byte sort key was not sent")
	}
}
