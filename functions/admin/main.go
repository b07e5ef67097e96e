// Command admin is the Lambda function that serves the admin API
// (/api/..., see docs/auth.md). Build it with "make build".
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
	h, err := app.Function(context.Background(), route.Admin)
	if err != nil {
		slog.Error("start admin function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}
