// Command uploads is the Lambda function that serves the registry's uploads
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
	h, err := app.Function(context.Background(), route.Uploads)
	if err != nil {
		slog.Error("start uploads function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}
