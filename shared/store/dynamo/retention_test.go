package dynamo_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/dynamo"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
	"github.com/berth-registry/berth/shared/store/storetest"
)

// TestRetentionContract runs the store.Retention contract suite on one
// table shared by every subtest (names are unique per subtest).
func TestRetentionContract(t *testing.T) {
	tbl, _ := open(t)
	storetest.Retention(t, func(*testing.T) storetest.RetentionStore { return tbl })
}

// counted opens a table whose requests calls counts.
func counted(t *testing.T) (*dynamo.Table, *backend.Calls) {
	t.Helper()
	calls := backend.NewCalls()
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(dynalite.Endpoint(t)),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		APIOptions:   []func(*middleware.Stack) error{calls.Option},
	})
	tbl := dynamo.New(client, dynalite.TableName("berth-test"))
	if err := tbl.CreateTable(t.Context()); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return tbl, calls
}

// digestWith returns a random digest of alg whose hex starts with first.
func digestWith(t *testing.T, alg digest.Algorithm, first string) digest.Digest {
	t.Helper()
	b := make([]byte, alg.Size())
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	enc := first + hex.EncodeToString(b)[len(first):]
	d := digest.NewDigestFromEncoded(alg, enc)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRequestsPerCall holds the calls on the pull and push paths to the
// requests their docs promise: a manifest GET's pull record and a blob
// HEAD's link touch are one write each and no read.
func TestRequestsPerCall(t *testing.T) {
	tbl, calls := counted(t)
	ctx := t.Context()
	repo, d := "dev/app", digestWith(t, digest.SHA256, "a")
	b := store.Blob{Digest: d, Size: 3, Key: "blobs/x", Created: time.Now().UTC()}
	if err := tbl.LinkBlob(ctx, repo, b); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC()
	tests := []struct {
		name string
		call func() error
		want map[string]int
	}{
		{"RecordPull → one UpdateItem", func() error {
			_, err := tbl.RecordPull(ctx, repo, d, t0)
			return err
		}, map[string]int{"DynamoDB.UpdateItem": 1}},
		{"RecordPull of a later time → one UpdateItem", func() error {
			_, err := tbl.RecordPull(ctx, repo, d, t0.Add(time.Second))
			return err
		}, map[string]int{"DynamoDB.UpdateItem": 1}},
		{"RecordPull of an earlier time (racing pulls) → a second UpdateItem that only counts", func() error {
			st, err := tbl.RecordPull(ctx, repo, d, t0)
			if err == nil && (st.Pulls != 3 || !st.LastPulled.Equal(t0.Add(time.Second))) {
				err = fmt.Errorf("stats %+v, want 3 pulls, last at %s", st, t0.Add(time.Second))
			}
			return err
		}, map[string]int{"DynamoDB.UpdateItem": 2}},
		{"TouchLink → one UpdateItem", func() error {
			got, err := tbl.TouchLink(ctx, repo, d)
			if err == nil && got.Key != b.Key {
				err = fmt.Errorf("TouchLink returned %+v, want %+v", got, b)
			}
			return err
		}, map[string]int{"DynamoDB.UpdateItem": 1}},
		{"MarkImages of two images → two UpdateItems", func() error {
			return tbl.MarkImages(ctx, repo, []store.ImageMark{{Digest: d}, {Digest: digestWith(t, digest.SHA256, "b")}})
		}, map[string]int{"DynamoDB.UpdateItem": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.Snapshot()
			if err := tc.call(); err != nil {
				t.Fatal(err)
			}
			if got := calls.Snapshot().Since(before).N; !equalCounts(got, tc.want) {
				t.Errorf("requests = %v, want %v", got, tc.want)
			}
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestBlobRecordsAreShardedAndListedInDigestOrder: records live in the
// partition of their algorithm and first hex digit, and ListBlobStates
// pages through the shards in digest order.
func TestBlobRecordsAreShardedAndListedInDigestOrder(t *testing.T) {
	tbl, client := open(t)
	ctx := t.Context()
	var want []string
	for _, c := range []struct {
		alg   digest.Algorithm
		first string
	}{{digest.SHA256, "f"}, {digest.SHA256, "0"}, {digest.SHA512, "0"}, {digest.SHA256, "a"}, {digest.SHA256, "a"}, {digest.SHA256, "9"}, {digest.SHA512, "e"}} {
		d := digestWith(t, c.alg, c.first)
		if err := tbl.PutBlob(ctx, store.Blob{Digest: d, Size: 1, Key: "blobs/" + d.Encoded()[:8], Created: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		want = append(want, d.String())
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(tbl.Name()), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "BLOB#" + c.alg.String() + ":" + c.first},
				"sk": &types.AttributeValueMemberS{Value: d.String()},
			},
		})
		if err != nil || out.Item == nil {
			t.Fatalf("record of %s not at BLOB#%s:%s: %v", d, c.alg, c.first, err)
		}
	}
	slices.Sort(want)
	var got []string
	for after, pages := digest.Digest(""), 0; ; pages++ {
		if pages > len(want) {
			t.Fatalf("listing does not end: %q", got)
		}
		page, err := tbl.ListBlobStates(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range page {
			got = append(got, st.Digest.String())
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].Digest
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBinnedImageLargerThanAnItem: a binned index with thousands of
// children outgrows DynamoDB's 400 KB item; it is split like a manifest,
// read back whole, and replacing or deleting it leaves no overflow item.
func TestBinnedImageLargerThanAnItem(t *testing.T) {
	tbl, client := open(t)
	ctx := t.Context()
	repo := "dev/big"
	man := store.Manifest{Repo: repo, Digest: digestWith(t, digest.SHA256, "5"), MediaType: "application/vnd.oci.image.index.v1+json",
		Body: []byte(`{"schemaVersion":2}`), Created: time.Now().UTC().Truncate(time.Millisecond)}
	for i := range 9000 {
		man.Refs = append(man.Refs, digestWith(t, digest.SHA256, fmt.Sprintf("%x", i%16)))
	}
	big := store.BinnedImage{Tenancy: "dev", RunID: "run1", Manifest: man, Tags: []store.Tag{{Repo: repo, Name: "v1", Digest: man.Digest}},
		Deleted: man.Created, Expires: man.Created.Add(48 * time.Hour), Reason: "untagged"}
	neighbour := big
	neighbour.Manifest = store.Manifest{Repo: repo, Digest: digestWith(t, digest.SHA256, "6"), Created: man.Created}
	for _, b := range []store.BinnedImage{big, neighbour} {
		if err := tbl.PutBinned(ctx, b); err != nil {
			t.Fatalf("PutBinned: %v", err)
		}
	}
	overflow := func() int {
		t.Helper()
		out, err := client.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(tbl.Name()), ConsistentRead: aws.Bool(true),
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: "REPO#" + repo},
				":p":  &types.AttributeValueMemberS{Value: "X#" + man.Digest.String() + "#"},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Items)
	}
	if n := overflow(); n == 0 {
		t.Fatalf("a %d-reference record has no overflow item", len(man.Refs))
	}
	got, err := tbl.GetBinned(ctx, repo, man.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Manifest.Refs, man.Refs) || string(got.Manifest.Body) != string(man.Body) || got.Tags[0].Name != "v1" {
		t.Fatalf("GetBinned: %d refs, body %q, tags %+v", len(got.Manifest.Refs), got.Manifest.Body, got.Tags)
	}
	for _, limit := range []int{1, 2, 10} {
		list, err := tbl.ListBinned(ctx, repo, "", limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != min(limit, 2) || len(list[0].Manifest.Refs) != len(man.Refs) {
			t.Fatalf("ListBinned(limit %d): %d entries", limit, len(list))
		}
	}
	rest, err := tbl.ListBinned(ctx, repo, man.Digest, 10)
	if err != nil || len(rest) != 1 || rest[0].Manifest.Digest != neighbour.Manifest.Digest {
		t.Fatalf("ListBinned after the big one = %+v, %v; want the neighbour", rest, err)
	}
	small := big
	small.Manifest.Refs = man.Refs[:3]
	if err := tbl.PutBinned(ctx, small); err != nil {
		t.Fatal(err)
	}
	if n := overflow(); n != 0 {
		t.Errorf("replaced by a small record, %d overflow items remain", n)
	}
	if err := tbl.PutBinned(ctx, big); err != nil {
		t.Fatal(err)
	}
	if err := tbl.DeleteBinned(ctx, repo, man.Digest); err != nil {
		t.Fatal(err)
	}
	if n := overflow(); n != 0 {
		t.Errorf("deleted, %d overflow items remain", n)
	}
}

// TestPutDecisionsOverManyBatches: more decisions than one
// BatchWriteItem takes, with repeats within a batch (which DynamoDB
// refuses), are all stored once.
func TestPutDecisionsOverManyBatches(t *testing.T) {
	tbl, _ := open(t)
	ctx := t.Context()
	var ds []store.Decision
	for i := range 60 {
		ds = append(ds, store.Decision{Tenancy: "dev", RunID: "r1", Repo: fmt.Sprintf("dev/r%02d", i), Digest: digestWith(t, digest.SHA256, "1"), Action: store.ActionDelete})
		if i%10 == 0 {
			again := ds[len(ds)-1]
			again.Action = store.ActionKeep
			ds = append(ds, again)
		}
	}
	if err := tbl.PutDecisions(ctx, ds); err != nil {
		t.Fatalf("PutDecisions: %v", err)
	}
	got, err := tbl.ListDecisions(ctx, "dev", "r1", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 {
		t.Fatalf("%d decisions stored, want 60", len(got))
	}
	for i, d := range got {
		if want := map[bool]string{true: store.ActionKeep, false: store.ActionDelete}[i%10 == 0]; d.Action != want {
			t.Errorf("decision %d (%s) action %q, want %q (the last of its repeats)", i, d.Repo, d.Action, want)
		}
	}
}
