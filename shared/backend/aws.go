package backend

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/shared/awsenv"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/store/dynamo"
	"github.com/berth-registry/berth/shared/store/s3store"
)

// SDK loads the AWS SDK's configuration.
type SDK func(ctx context.Context) (aws.Config, error)

// LambdaSDK is the SDK's configuration from Lambda's environment alone
// (shared/awsenv): a function links none of the SDK's credential chain.
var LambdaSDK SDK = awsenv.Config

// Endpoint is the endpoint the environment names for a service
// (awsenv.Endpoint).
func Endpoint(service string) *string { return awsenv.Endpoint(service) }

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
	return dynamo.NewFromConfig(awsCfg, cfg.Table, func(o *dynamodb.Options) {
		if ep != nil {
			o.BaseEndpoint = ep
		}
	})
}
