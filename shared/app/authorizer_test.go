package app

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestAuthorizerReadsTheKMSKeyOnFirstUse: with a KMS signing key the
// authorizer starts without calling KMS (a cold start waits on no
// network), and reads the key when an invocation needs it — here from
// an endpoint that refuses, so the invocation fails, and so does the
// next (it tries again rather than keep the failure).
func TestAuthorizerReadsTheKMSKeyOnFirstUse(t *testing.T) {
	for k, v := range map[string]string{
		"BERTH_BACKEND": "aws", "BERTH_TABLE": "t", "BERTH_BUCKET": "b",
		"BERTH_SIGNING_KEY_ID": "arn:aws:kms:us-east-1:111122223333:key/k",
		"AWS_REGION":           "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:1", "AWS_MAX_ATTEMPTS": "1",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	} {
		t.Setenv(k, v)
	}
	h, err := Authorizer(context.Background())
	if err != nil {
		t.Fatalf("Authorizer at init: %v (it must not need KMS yet)", err)
	}
	for i := range 2 {
		_, err := h(context.Background(), events.APIGatewayV2CustomAuthorizerV2Request{RouteKey: "GET /v2"})
		if err == nil || !strings.Contains(err.Error(), "GetPublicKey") {
			t.Errorf("invocation %d with KMS unreachable: %v, want the GetPublicKey error", i+1, err)
		}
	}
}
