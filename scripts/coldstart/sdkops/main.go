// Command sdkops is the cold-start benchmark's (scripts/coldstart) second
// floor for the registry functions: sdkfloor's DynamoDB and S3 clients,
// and a handler that can call every operation a registry function calls
// through them (it never does in the benchmark: the event does not ask),
// so the linker keeps those operations' serializers, as it must in a
// function that uses them. What a function over those two services costs
// once it calls them, before it does anything of its own.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	cfg := aws.Config{Region: "us-east-1"}
	db, s := dynamodb.NewFromConfig(cfg), s3.NewFromConfig(cfg)
	ps := s3.NewPresignClient(s)
	lambda.Start(func(ctx context.Context, ev map[string]any) (map[string]bool, error) {
		if ev["call"] != true {
			return map[string]bool{"dynamodb": db != nil, "s3": s != nil}, nil
		}
		var errs []error
		note := func(_ any, err error) { errs = append(errs, err) }
		note(db.GetItem(ctx, &dynamodb.GetItemInput{}))
		note(db.PutItem(ctx, &dynamodb.PutItemInput{}))
		note(db.UpdateItem(ctx, &dynamodb.UpdateItemInput{}))
		note(db.DeleteItem(ctx, &dynamodb.DeleteItemInput{}))
		note(db.Query(ctx, &dynamodb.QueryInput{}))
		note(db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{}))
		note(s.GetObject(ctx, &s3.GetObjectInput{}))
		note(s.PutObject(ctx, &s3.PutObjectInput{}))
		note(s.HeadObject(ctx, &s3.HeadObjectInput{}))
		note(s.DeleteObject(ctx, &s3.DeleteObjectInput{}))
		note(s.CopyObject(ctx, &s3.CopyObjectInput{}))
		note(s.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{}))
		note(s.UploadPart(ctx, &s3.UploadPartInput{}))
		note(s.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{}))
		note(s.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{}))
		note(ps.PresignGetObject(ctx, &s3.GetObjectInput{}, s3.WithPresignExpires(time.Minute)))
		note(ps.PresignUploadPart(ctx, &s3.UploadPartInput{}))
		return map[string]bool{"called": len(errs) > 0}, nil
	})
}
