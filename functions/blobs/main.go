// Command blobs is the Lambda function that serves the registry's blobs
// routes (see shared/route). Build it with "make build".
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/route"
)

func main() {
	h, err := app.Function(context.Background(), route.Blobs)
	if err != nil {
		slog.Error("start blobs function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}
