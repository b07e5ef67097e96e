package s3store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CreateBucket creates the bucket if it does not exist, with the
// lifecycle rules the CDK stack sets (abort incomplete multipart uploads
// after a day, expire upload tails after two). Emulators that lack
// lifecycle configuration get the bucket without it: on them, Sweep is
// what cleans up.
func (s *Store) CreateBucket(ctx context.Context) error {
	in := &s3.CreateBucketInput{Bucket: &s.bucket}
	if r := s.client.Options().Region; r != "" && r != "us-east-1" {
		// us-east-1 refuses a location constraint naming itself.
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(r)}
	}
	_, err := s.client.CreateBucket(ctx, in)
	switch code(err) {
	case "":
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", s.bucket, err)
		}
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		// BucketAlreadyExists from an emulator means ours; on AWS it
		// means someone else's, and the first request will say so.
	default:
		return fmt.Errorf("create bucket %s: %w", s.bucket, err)
	}
	abort := types.LifecycleRule{
		ID: aws.String("abort-incomplete-multipart"), Status: types.ExpirationStatusEnabled,
		Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String("")},
		AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)},
	}
	tails := types.LifecycleRule{
		ID: aws.String("expire-upload-tails"), Status: types.ExpirationStatusEnabled,
		Filter:     &types.LifecycleRuleFilter{Prefix: aws.String(UploadsPrefix)},
		Expiration: &types.LifecycleExpiration{Days: aws.Int32(2)},
	}
	err = s.putLifecycle(ctx, abort, tails)
	if code(err) == "InvalidArgument" {
		// MinIO implements no AbortIncompleteMultipartUpload and refuses
		// a rule made only of it as malformed: keep the rule it has.
		err = s.putLifecycle(ctx, tails)
	}
	switch code(err) {
	case "NotImplemented", "MethodNotAllowed", "BucketAlreadyExists":
		// An emulator without lifecycle support (gofakes3 routes the
		// request as a second CreateBucket).
		return nil
	}
	if err != nil {
		return fmt.Errorf("set lifecycle rules on bucket %s: %w", s.bucket, err)
	}
	return nil
}

func (s *Store) putLifecycle(ctx context.Context, rules ...types.LifecycleRule) error {
	_, err := s.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket: &s.bucket, LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules},
	})
	return err
}
