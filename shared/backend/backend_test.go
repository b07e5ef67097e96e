package backend_test

// The aws case runs against dynalite and gofakes3 behind one endpoint
// (as LocalStack serves both), which verify no signatures; see
// shared/store/dynamo/dynalite and shared/store/s3store/s3fake.

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
	"github.com/berth-registry/berth/shared/store/s3store/s3fake"
)

// oneEndpoint serves DynamoDB's API (requests with X-Amz-Target) from
// dynalite and S3's from gofakes3 on one URL, as LocalStack does.
func oneEndpoint(t *testing.T) string {
	t.Helper()
	dyn, err := url.Parse(dynalite.Endpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	toDynamo := httputil.NewSingleHostReverseProxy(dyn)
	s3 := s3fake.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_") {
			toDynamo.ServeHTTP(w, r)
			return
		}
		s3.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func awsEnv(t *testing.T, endpoint string) {
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_PROFILE", "")
}

// TestOpenAWS: with AWS_ENDPOINT_URL set, AWS with Init creates
// the table and bucket (again on a second start), addresses S3 by path,
// and counts every request it sends but none for presigning.
func TestOpenAWS(t *testing.T) {
	ep := oneEndpoint(t)
	awsEnv(t, ep)
	cfg := config.Config{Backend: "aws", Table: dynalite.TableName("berth-be"), Bucket: dynalite.TableName("berth-be"), Init: true}
	s, err := open(t, cfg)
	if err != nil {
		t.Fatalf("AWS: %v", err)
	}
	defer s.Close()
	if s.Meta == nil || s.IDs == nil || s.Blobs == nil || s.S3 == nil || s.Calls == nil || s.Objects != nil {
		t.Fatalf("Open(aws) stores = %+v", s)
	}
	if again, err := open(t, cfg); err != nil {
		t.Fatalf("second Open(aws) with Init: %v", err)
	} else {
		again.Close()
	}
	ctx := t.Context()
	before := s.Calls.Snapshot()
	if err := s.Meta.EnsureRepository(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Blobs.Put(ctx, "blobs/x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	c := s.Calls.Snapshot().Since(before)
	if c.N["DynamoDB.GetItem"] != 1 || c.N["DynamoDB.PutItem"] != 1 || c.N["S3.PutObject"] != 1 || c.S3() != 1 {
		t.Errorf("EnsureRepository of a new name and one Put counted %s; want GetItem=1 PutItem=1 PutObject=1", c)
	}
	if c.ReadUnits <= 0 || c.WriteUnits <= 0 {
		t.Errorf("consumed capacity not counted: %+v", c)
	}
	before = s.Calls.Snapshot()
	raw, err := s.Blobs.PresignGet(ctx, "blobs/x", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Calls.Snapshot().Since(before); len(c.N) != 0 {
		t.Errorf("presigning counted requests: %s", c)
	}
	u, _ := url.Parse(raw)
	e, _ := url.Parse(ep)
	if u.Host != e.Host || u.Path != "/"+cfg.Bucket+"/blobs/x" {
		t.Errorf("presigned URL %s: want path-style on %s: /%s/blobs/x", raw, e.Host, cfg.Bucket)
	}
	res, err := http.Get(raw)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET presigned URL: %d", res.StatusCode)
	}
}

// TestOpenAWSNeedsARegion: without one the SDK cannot sign; say so.
func TestOpenAWSNeedsARegion(t *testing.T) {
	awsEnv(t, "http://127.0.0.1:1")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	awsCfg, err := backend.LambdaSDK(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, err = backend.AWS(t.Context(), awsCfg, config.Config{Backend: "aws", Table: "t", Bucket: "b"})
	if err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("Open(aws) without a region: %v, want an error naming AWS_REGION", err)
	}
}

// open opens the aws backend of cfg as a function does.
func open(t *testing.T, cfg config.Config) (*backend.Stores, error) {
	t.Helper()
	awsCfg, err := backend.LambdaSDK(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return backend.AWS(t.Context(), awsCfg, cfg)
}
