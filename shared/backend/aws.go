package backend

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/store/dynamo"
	"github.com/berth-registry/berth/shared/store/s3store"
)

// SDK loads the AWS SDK's configuration.
type SDK func(ctx context.Context) (aws.Config, error)

// LambdaSDK is the SDK's configuration from what Lambda's environment
// holds: the region (AWS_REGION), the execution role's credentials
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
// AWS_MAX_ATTEMPTS, and endpoints (AWS_ENDPOINT_URL and the
// per-service AWS_ENDPOINT_URL_<SERVICE>, applied by each client:
// Endpoint), read as the SDK's own loader reads them. It reads no
// shared config file, profile, SSO cache or instance metadata, none of
// which a function has, so a function links none of the SDK's
// credential chain (its loader brings STS, SSO, SSO-OIDC, sign-in and
// IMDS clients: about a megabyte of every bootstrap, docs/lambda-mode.md).
// `berth serve` loads the whole chain instead (shared/inprocess).
func LambdaSDK(context.Context) (aws.Config, error) {
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
// ("DYNAMODB", "S3", "KMS", "LAMBDA"): AWS_ENDPOINT_URL_<SERVICE>, else
// AWS_ENDPOINT_URL, else nil (AWS's own). Clients set it as their
// BaseEndpoint, whichever loader made their configuration.
func Endpoint(service string) *string {
	if ep := os.Getenv("AWS_ENDPOINT_URL_" + strings.ToUpper(service)); ep != "" {
		return aws.String(ep)
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		return aws.String(ep)
	}
	return nil
}

// AWS opens the DynamoDB table and S3 bucket of cfg with the SDK
// configuration awsCfg (and the endpoints of Endpoint), creating both
// when cfg.Init is set. Nothing is sent unless cfg.Init is set: a
// function's cold start waits on no network.
func AWS(ctx context.Context, awsCfg aws.Config, cfg config.Config) (*Stores, error) {
	if awsCfg.Region == "" {
		return nil, errors.New("AWS_REGION is required with BERTH_BACKEND=aws (any region for an emulator)")
	}
	calls := NewCalls()
	awsCfg.APIOptions = append(awsCfg.APIOptions[:len(awsCfg.APIOptions):len(awsCfg.APIOptions)], calls.Option)
	table := Table(awsCfg, cfg)
	s3ep := Endpoint("S3")
	blobs := s3store.New(s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if s3ep != nil {
			o.BaseEndpoint = s3ep
		}
		// Emulators listen on 127.0.0.1, where a bucket cannot be a host
		// name: address buckets in the path when the endpoint is ours.
		o.UsePathStyle = s3ep != nil
	}), cfg.Bucket)
	if cfg.Init {
		if err := table.CreateTable(ctx); err != nil {
			return nil, err
		}
		if err := blobs.CreateBucket(ctx); err != nil {
			return nil, err
		}
	}
	return &Stores{Meta: table, IDs: table, Blobs: blobs, S3: blobs, Calls: calls}, nil
}

// Table opens the DynamoDB table of cfg alone with the SDK configuration
// awsCfg.
func Table(awsCfg aws.Config, cfg config.Config) *dynamo.Table {
	ep := Endpoint("DYNAMODB")
	return dynamo.New(dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if ep != nil {
			o.BaseEndpoint = ep
		}
	}), cfg.Table)
}
