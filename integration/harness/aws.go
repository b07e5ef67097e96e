package harness

import (
	"os"
	"testing"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
	"github.com/berth-registry/berth/shared/store/s3store/s3fake"
)

// Backends are the storage backends end-to-end suites run on, as
// BERTH_BACKEND names them.
var Backends = []string{"embedded", "aws"}

// OnBackend returns cfg set for backend: for "embedded" a fresh data
// directory, for "aws" what OnAWS sets.
func OnBackend(t testing.TB, backend string, cfg config.Config) config.Config {
	t.Helper()
	if backend == "aws" {
		return OnAWS(t, cfg)
	}
	cfg.Backend, cfg.Data = "embedded", t.TempDir()
	return cfg
}

// OnAWS returns cfg set for the aws backend on a fresh table and bucket,
// with the SDK's environment pointing at emulators as a user of
// BERTH_BACKEND=aws sets it: one endpoint for both services when
// $BERTH_TEST_AWS_ENDPOINT is set (LocalStack), else dynalite (see
// dynalite.Endpoint: the test skips without it, or fails under CI) and
// an in-process gofakes3. Data is a fresh directory (the local process
// keeps its token-signing key there, as `berth serve` does).
func OnAWS(t testing.TB, cfg config.Config) config.Config {
	t.Helper()
	if ep := os.Getenv(dynalite.EnvAWSEndpoint); ep != "" {
		UseAWSEndpoints(t, ep, ep)
	} else {
		UseAWSEndpoints(t, dynalite.Endpoint(t), s3fake.Start(t))
	}
	cfg.Backend, cfg.Init, cfg.Data = "aws", true, t.TempDir()
	cfg.Table = dynalite.TableName("berth-it")
	cfg.Bucket = cfg.Table
	return cfg
}

// UseAWSEndpoints sets the AWS SDK's environment for the test as a user
// of BERTH_BACKEND=aws sets it against emulators: DynamoDB at dynamodb,
// S3 at s3, a region, static test credentials, and no profile, config
// file or shared endpoint that could send a request elsewhere.
func UseAWSEndpoints(t testing.TB, dynamodb, s3 string) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_DYNAMODB":   dynamodb,
		"AWS_ENDPOINT_URL_S3":         s3,
		"AWS_REGION":                  "us-east-1",
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	} {
		t.Setenv(k, v)
	}
}
