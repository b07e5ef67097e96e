// Command base is the Lambda function that serves the registry's base
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
	h, err := app.Function(context.Background(), route.Base)
	if err != nil {
		slog.Error("start base function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}
