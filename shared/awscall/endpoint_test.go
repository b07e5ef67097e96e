package awscall

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestEndpoint: a service's endpoint is AWS_ENDPOINT_URL_<SERVICE>, else
// AWS_ENDPOINT_URL, else the configuration's BaseEndpoint, else AWS's
// regional one, as the SDK's clients choose.
func TestEndpoint(t *testing.T) {
	cfg := aws.Config{Region: "ap-southeast-2"}
	for _, tc := range []struct {
		name, service, perService, all, base, want string
	}{
		{"AWS's", "kms", "", "", "", "https://kms.ap-southeast-2.amazonaws.com"},
		{"AWS's lambda", "lambda", "", "", "", "https://lambda.ap-southeast-2.amazonaws.com"},
		{"BaseEndpoint", "lambda", "", "", "http://base:1/", "http://base:1"},
		{"AWS_ENDPOINT_URL", "kms", "", "http://all:2", "http://base:1", "http://all:2"},
		{"AWS_ENDPOINT_URL_<SERVICE>", "lambda", "http://lambda:3", "http://all:2", "http://base:1", "http://lambda:3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_KMS", tc.perService)
			t.Setenv("AWS_ENDPOINT_URL_LAMBDA", tc.perService)
			t.Setenv("AWS_ENDPOINT_URL", tc.all)
			c := cfg
			if tc.base != "" {
				c.BaseEndpoint = aws.String(tc.base)
			}
			if got := newClient(c, tc.service).endpoint; got != tc.want {
				t.Errorf("endpoint %q, want %q", got, tc.want)
			}
		})
	}
}
