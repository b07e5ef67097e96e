package backend

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/store/dynamo"
	"github.com/berth-registry/berth/shared/store/s3store"
)

// AWS opens the DynamoDB table and S3 bucket of cfg with the SDK's own
// configuration from the environment (AWS_REGION, credentials,
// AWS_ENDPOINT_URL and the per-service AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_S3), creating both when cfg.Init is set. Nothing is
// sent unless cfg.Init is set: a function's cold start waits on no
// network.
func AWS(ctx context.Context, cfg config.Config) (*Stores, error) {
	awsCfg, calls, err := sdkConfig(ctx)
	if err != nil {
		return nil, err
	}
	table := dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.Table)
	blobs := s3store.New(s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// Emulators listen on 127.0.0.1, where a bucket cannot be a host
		// name: address buckets in the path when the endpoint is ours.
		o.UsePathStyle = EndpointOverride(awsCfg)
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

// Table opens the DynamoDB table of cfg alone, for the functions that
// touch no blob (token, authorizer): they link no S3 client.
func Table(ctx context.Context, cfg config.Config) (*dynamo.Table, error) {
	awsCfg, _, err := sdkConfig(ctx)
	if err != nil {
		return nil, err
	}
	return dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.Table), nil
}

// sdkConfig is the SDK's configuration from the environment, counting
// the requests it sends.
func sdkConfig(ctx context.Context) (aws.Config, *Calls, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, nil, fmt.Errorf("aws configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return aws.Config{}, nil, errors.New("AWS_REGION is required with BERTH_BACKEND=aws (any region for an emulator)")
	}
	calls := NewCalls()
	awsCfg.APIOptions = append(awsCfg.APIOptions, calls.Option)
	return awsCfg, calls, nil
}

// EndpointOverride reports whether S3 requests go to an endpoint set in
// the environment (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3) rather than
// AWS's own.
func EndpointOverride(awsCfg aws.Config) bool {
	return aws.ToString(awsCfg.BaseEndpoint) != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
}
