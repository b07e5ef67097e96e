package s3store_test

// These tests run against gofakes3 in-process (shared/store/s3store/s3fake),
// or against the S3 API at $BERTH_TEST_AWS_ENDPOINT (LocalStack).
// The emulator does not verify request signatures (so the presigned URL
// is checked field by field below, not by S3 refusing a bad one), URL
// expiry, the minimum part size (s3store enforces it itself), or
// lifecycle rules (Sweep is tested instead).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
	"github.com/berth-registry/berth/shared/store/s3store"
	"github.com/berth-registry/berth/shared/store/s3store/s3fake"
	"github.com/berth-registry/berth/shared/store/storetest"
)

// open starts an emulator and returns a store on a new bucket in it.
func open(t *testing.T) (*s3store.Store, string) {
	t.Helper()
	endpoint := os.Getenv(dynalite.EnvAWSEndpoint)
	if endpoint == "" {
		endpoint = s3fake.Start(t)
	}
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := s3store.New(client, "berth-test-"+hex.EncodeToString(b))
	if err := s.CreateBucket(t.Context()); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return s, endpoint
}

// TestBlobStoreContract runs the store.BlobStore contract suite against
// one bucket shared by every subtest (keys are unique per subtest).
func TestBlobStoreContract(t *testing.T) {
	s, _ := open(t)
	storetest.BlobStore(t, func(*testing.T) store.BlobStore { return s })
}

// TestPresignGet checks the presigned URL itself — method, host, path
// (path-style: /bucket/key), expiry and the SigV4 query — since the
// emulator accepts any signature, then that it serves the object.
func TestPresignGet(t *testing.T) {
	s, endpoint := open(t)
	ctx := t.Context()
	key := "blobs/some-upload-id"
	data := []byte("layer bytes")
	if err := s.Put(ctx, key, data); err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{time.Minute, 15 * time.Minute, s3store.MaxPresignTTL} {
		raw, err := s.PresignGet(ctx, key, ttl)
		if err != nil {
			t.Fatalf("PresignGet(%v): %v", ttl, err)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		ep, _ := url.Parse(endpoint)
		q := u.Query()
		checks := []struct{ what, got, want string }{
			{"scheme", u.Scheme, "http"},
			{"host", u.Host, ep.Host},
			{"path", u.Path, "/" + s.Bucket() + "/" + key},
			{"X-Amz-Algorithm", q.Get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256"},
			{"X-Amz-Expires", q.Get("X-Amz-Expires"), strconv.FormatInt(int64(ttl/time.Second), 10)},
			{"X-Amz-SignedHeaders", q.Get("X-Amz-SignedHeaders"), "host"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("ttl %v: %s = %q, want %q (URL %s)", ttl, c.what, c.got, c.want, raw)
			}
		}
		if cred := q.Get("X-Amz-Credential"); !strings.HasPrefix(cred, "test/") || !strings.HasSuffix(cred, "/us-east-1/s3/aws4_request") {
			t.Errorf("X-Amz-Credential = %q, want test/<date>/us-east-1/s3/aws4_request", cred)
		}
		if sig := q.Get("X-Amz-Signature"); len(sig) != 64 {
			t.Errorf("X-Amz-Signature = %q, want 64 hex digits", sig)
		}
		// A GET URL: S3 signs the method into the signature, so the same
		// URL with another method is refused by S3 (not by the emulator).
		res, err := http.Get(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
			t.Errorf("GET presigned URL: %d %q, want 200 %q", res.StatusCode, got, data)
		}
	}
	for _, bad := range []time.Duration{0, -time.Second, s3store.MaxPresignTTL + time.Second} {
		if _, err := s.PresignGet(ctx, key, bad); err == nil {
			t.Errorf("PresignGet with expiry %v succeeded, want an error", bad)
		}
	}
}

// TestCreateBucketIsIdempotent: Init runs on every start.
func TestCreateBucketIsIdempotent(t *testing.T) {
	s, _ := open(t)
	if err := s.CreateBucket(t.Context()); err != nil {
		t.Fatalf("second CreateBucket: %v", err)
	}
}

// TestSweep: stale multipart uploads and tails that keep does not claim
// are removed; fresh ones and claimed ones stay.
func TestSweep(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	mk := func(key string) string {
		id, err := s.CreateMultipart(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UploadPart(ctx, key, id, 1, []byte("part")); err != nil {
			t.Fatal(err)
		}
		return id
	}
	mk("blobs/abandoned")
	kept := mk("blobs/live")
	for _, k := range []string{"uploads/abandoned/tail-2-x", "uploads/live/tail-3-y", "blobs/committed"} {
		if err := s.Put(ctx, k, []byte("tail")); err != nil {
			t.Fatal(err)
		}
	}
	keep := func(_ context.Context, p s3store.Pending) (bool, error) {
		return strings.Contains(p.Key, "live"), nil
	}
	// Nothing is older than a time in the past.
	if n, err := s.Sweep(ctx, "blobs/", "uploads/", time.Now().Add(-time.Hour), keep); err != nil || n != 0 {
		t.Fatalf("Sweep(before an hour ago) = %d, %v; want 0, nil", n, err)
	}
	n, err := s.Sweep(ctx, "blobs/", "uploads/", time.Now().Add(time.Hour), keep)
	if err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want 2 removed", n, err)
	}
	ups, err := s.Multiparts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].UploadID != kept {
		t.Errorf("multipart uploads after Sweep = %+v, want only the live one %s", ups, kept)
	}
	objs, err := s.Objects(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	if want := []string{"blobs/committed", "uploads/live/tail-3-y"}; !slices.Equal(keys, want) {
		t.Errorf("objects after Sweep = %q, want %q", keys, want)
	}
}

// TestAbortIsIdempotent: aborting an aborted or completed upload is not
// an error (S3 answers NoSuchUpload), so cancel after commit is safe.
func TestAbortIsIdempotent(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	id, err := s.CreateMultipart(ctx, "blobs/x")
	if err != nil {
		t.Fatal(err)
	}
	etag, err := s.UploadPart(ctx, "blobs/x", id, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteMultipart(ctx, "blobs/x", id, []store.Part{{Number: 1, ETag: etag, Size: 1}}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.AbortMultipart(ctx, "blobs/x", id); err != nil {
			t.Fatalf("abort #%d after complete: %v", i+1, err)
		}
	}
	if _, err := s.UploadPart(ctx, "blobs/x", id, 2, []byte("y")); err == nil {
		t.Error("UploadPart to a completed upload succeeded")
	}
}
