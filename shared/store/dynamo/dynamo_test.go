package dynamo_test

// These tests run against dynalite (shared/store/dynamo/dynalite), which
// does not verify request signatures, does not expire items by TTL (the
// expiry checked on read is what is tested, and the ttl attribute is
// checked directly), and has no transactions (the store uses none).

import (
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/dynamo"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
	"github.com/berth-registry/berth/shared/store/storetest"
)

// open creates a table on the emulator, shared by a test's subtests.
func open(t *testing.T) (*dynamo.Table, *dynamodb.Client) {
	t.Helper()
	client := dynalite.Client(dynalite.Endpoint(t))
	tbl := dynamo.New(client, dynalite.TableName("berth-test"))
	if err := tbl.CreateTable(t.Context()); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return tbl, client
}

// TestMetadataContract runs the store.Metadata contract suite on one
// table shared by every subtest (names are unique per subtest).
func TestMetadataContract(t *testing.T) {
	tbl, _ := open(t)
	storetest.Metadata(t, func(*testing.T) store.Metadata { return tbl })
}

// TestIdentityContract runs the store.Identity contract suite on one
// table shared by every subtest.
func TestIdentityContract(t *testing.T) {
	tbl, _ := open(t)
	storetest.Identity(t, func(*testing.T) store.Identity { return tbl })
}

// TestCreateTableIsIdempotent: BERTH_INIT runs on every start.
func TestCreateTableIsIdempotent(t *testing.T) {
	tbl, client := open(t)
	if err := tbl.CreateTable(t.Context()); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
	out, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(tbl.Name())})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Table
	if len(d.KeySchema) != 2 || aws.ToString(d.KeySchema[0].AttributeName) != "pk" || aws.ToString(d.KeySchema[1].AttributeName) != "sk" {
		t.Errorf("key schema = %+v, want pk (hash), sk (range)", d.KeySchema)
	}
	if len(d.GlobalSecondaryIndexes) != 0 {
		t.Errorf("table has %d GSIs, want none", len(d.GlobalSecondaryIndexes))
	}
	if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode = %+v, want PAY_PER_REQUEST", d.BillingModeSummary)
	}
}

// TestUploadItemCarriesTTL checks the item itself: "ttl" is the
// session's expiry in epoch seconds (DynamoDB's TTL attribute), and "ver"
// its version, after create and after update.
func TestUploadItemCarriesTTL(t *testing.T) {
	tbl, client := open(t)
	ctx := t.Context()
	exp := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	u := store.Upload{ID: dynalite.TableName("u"), Repo: "r", Key: "blobs/x", Created: time.Now().UTC(), Expires: exp}
	if err := tbl.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	check := func(wantExp time.Time, wantVer int64) {
		t.Helper()
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(tbl.Name()), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "UPLOAD#" + u.ID},
				"sk": &types.AttributeValueMemberS{Value: "U"},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ttl, _ := out.Item["ttl"].(*types.AttributeValueMemberN)
		ver, _ := out.Item["ver"].(*types.AttributeValueMemberN)
		if ttl == nil || ttl.Value != strconv.FormatInt(wantExp.Unix(), 10) {
			t.Errorf("ttl = %v, want N %d", out.Item["ttl"], wantExp.Unix())
		}
		if ver == nil || ver.Value != strconv.FormatInt(wantVer, 10) {
			t.Errorf("ver = %v, want N %d", out.Item["ver"], wantVer)
		}
	}
	check(exp, 1)
	u.Version, u.Expires = 2, exp.Add(time.Hour)
	if err := tbl.UpdateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	check(exp.Add(time.Hour), 2)
}
