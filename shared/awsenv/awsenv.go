// Package awsenv is the AWS SDK's configuration as Lambda's environment
// gives it to a function, without the SDK's loader: the region, the
// execution role's credentials, AWS_MAX_ATTEMPTS, and the endpoints of
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, read as the SDK's own
// loader reads them. It reads no shared config file, profile, SSO cache
// or instance metadata, none of which a function has, so a function
// links none of the SDK's credential chain: config.LoadDefaultConfig
// brings the STS, SSO, SSO-OIDC, sign-in and IMDS clients, about a
// megabyte of every bootstrap (docs/lambda-mode.md). `berth serve`
// loads the whole chain instead (shared/inprocess).
package awsenv

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Config is the SDK's configuration from Lambda's environment: the
// region (AWS_REGION, else AWS_DEFAULT_REGION), the credentials
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
// AWS_MAX_ATTEMPTS and AWS_ENDPOINT_URL. Per-service endpoints are each
// client's to apply (Endpoint).
func Config(context.Context) (aws.Config, error) {
	cfg := aws.Config{Region: os.Getenv("AWS_REGION")}
	if cfg.Region == "" {
		cfg.Region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if id := os.Getenv("AWS_ACCESS_KEY_ID"); id != "" {
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			id, os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")))
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	if s := os.Getenv("AWS_MAX_ATTEMPTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return cfg, errors.New("AWS_MAX_ATTEMPTS must be a positive number of attempts")
		}
		cfg.RetryMaxAttempts = n
	}
	return cfg, nil
}

// Endpoint is the endpoint the environment names for a service
// ("DYNAMODB", "S3", "KMS", "LAMBDA", "EVENTBRIDGE"):
// AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, else nil (AWS's
// own). Clients set it as their BaseEndpoint, whichever loader made
// their configuration.
func Endpoint(service string) *string {
	if ep := os.Getenv("AWS_ENDPOINT_URL_" + strings.ToUpper(service)); ep != "" {
		return aws.String(ep)
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		return aws.String(ep)
	}
	return nil
}
