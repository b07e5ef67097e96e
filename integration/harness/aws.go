package harness

import "testing"

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
