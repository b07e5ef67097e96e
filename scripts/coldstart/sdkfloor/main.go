// Command sdkfloor is the cold-start benchmark's (scripts/coldstart) floor
// for the registry functions: aws-lambda-go with a DynamoDB and an S3
// client made, as every registry function makes them at init, and
// nothing else — what any function over those two services costs before
// it does anything of its own.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	cfg := aws.Config{Region: "us-east-1"}
	db, s := dynamodb.NewFromConfig(cfg), s3.NewFromConfig(cfg)
	lambda.Start(func(context.Context) (map[string]bool, error) {
		return map[string]bool{"dynamodb": db != nil, "s3": s != nil}, nil
	})
}
