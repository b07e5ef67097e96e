package dynamo_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/dynamo"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
)

// loseAnswers sends every request on, then, while armed, answers the
// first call of the named operation with a 500 as if its answer had been
// lost: the write has taken effect and the SDK sends it again.
type loseAnswers struct {
	mu    sync.Mutex
	op    string // X-Amz-Target suffix, e.g. "DeleteItem"
	armed bool
	lost  int
}

func (l *loseAnswers) arm(op string) {
	l.mu.Lock()
	l.op, l.armed = op, true
	l.mu.Unlock()
}

func (l *loseAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return res, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.armed && strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+l.op) && res.StatusCode == 200 {
		l.armed = false
		l.lost++
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		body := `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"answer lost"}`
		return &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}}, Body: io.NopCloser(bytes.NewReader([]byte(body))),
			ContentLength: int64(len(body)), Request: r}, nil
	}
	return res, nil
}

// TestLostAnswersOfWritesThatTookEffect: the SDK sends a write again
// when its answer is lost (a timeout, a broken connection, a checksum
// mismatch — seen from dynalite under load). A delete whose first
// attempt took effect then fails its condition, and a replacement
// returns its own first write as the old item; neither may be reported
// as a failure or leave a large record's overflow items behind.
func TestLostAnswersOfWritesThatTookEffect(t *testing.T) {
	lose := &loseAnswers{}
	client := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(dynalite.Endpoint(t)),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:  &http.Client{Transport: lose},
	})
	tbl := dynamo.New(client, dynalite.TableName("berth-lost"))
	ctx := t.Context()
	if err := tbl.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	overflow := func(prefix string) int {
		t.Helper()
		out, err := client.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(tbl.Name()), ConsistentRead: aws.Bool(true),
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: "REPO#dev/lost"},
				":p":  &types.AttributeValueMemberS{Value: prefix},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Items)
	}

	man := store.Manifest{Repo: "dev/lost", Digest: digestWith(t, digest.SHA256, "7"), MediaType: "application/vnd.oci.image.index.v1+json",
		Body: []byte(`{"schemaVersion":2}`), Created: time.Now().UTC().Truncate(time.Millisecond)}
	for i := range 9000 {
		man.Refs = append(man.Refs, digestWith(t, digest.SHA256, fmt.Sprintf("%x", i%16)))
	}
	if err := tbl.PutManifest(ctx, man); err != nil {
		t.Fatal(err)
	}
	if n := overflow("M#" + man.Digest.String() + "#"); n == 0 {
		t.Fatal("the large manifest has no overflow items: the test would prove nothing")
	}
	lose.arm("DeleteItem")
	if err := tbl.DeleteManifest(ctx, man.Repo, man.Digest); err != nil {
		t.Errorf("DeleteManifest whose first answer was lost: %v", err)
	}
	if _, err := tbl.GetManifest(ctx, man.Repo, man.Digest); err == nil {
		t.Error("the manifest is still there")
	}
	if n := overflow("M#" + man.Digest.String()); n != 0 {
		t.Errorf("%d items of the deleted manifest remain", n)
	}

	big := store.BinnedImage{Tenancy: "dev", RunID: "run1", Manifest: man, Deleted: man.Created, Expires: man.Created.Add(48 * time.Hour), Reason: "untagged"}
	if err := tbl.PutBinned(ctx, big); err != nil {
		t.Fatal(err)
	}
	small := big
	small.Manifest.Refs = man.Refs[:3]
	lose.arm("PutItem")
	if err := tbl.PutBinned(ctx, small); err != nil {
		t.Errorf("PutBinned whose first answer was lost: %v", err)
	}
	if n := overflow("X#" + man.Digest.String() + "#"); n != 0 {
		t.Errorf("replaced by a small record after a lost answer, %d overflow items remain", n)
	}
	if got, err := tbl.GetBinned(ctx, man.Repo, man.Digest); err != nil || len(got.Manifest.Refs) != 3 {
		t.Errorf("GetBinned = %d refs, %v; want the small record", len(got.Manifest.Refs), err)
	}
	if lose.lost != 2 {
		t.Errorf("%d answers were lost, want 2: the test did not exercise the retries", lose.lost)
	}
}
