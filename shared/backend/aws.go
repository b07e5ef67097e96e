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

// openAWS opens the DynamoDB table and S3 bucket of cfg with the SDK's
// own configuration from the environment (AWS_REGION, credentials,
// AWS_ENDPOINT_URL and the per-service AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_S3), creating both when cfg.Init is set.
func openAWS(ctx context.Context, cfg config.Config) (*Stores, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("AWS_REGION is required with BERTH_BACKEND=aws (any region for an emulator)")
	}
	calls := NewCalls()
	awsCfg.APIOptions = append(awsCfg.APIOptions, calls.Option)
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

// EndpointOverride reports whether S3 requests go to an endpoint set in
// the environment (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3) rather than
// AWS's own.
func EndpointOverride(awsCfg aws.Config) bool {
	return aws.ToString(awsCfg.BaseEndpoint) != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
}
