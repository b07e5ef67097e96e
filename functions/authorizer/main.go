// Command authorizer is the API Gateway HTTP API Lambda authorizer (REQUEST,
// payload 2.0, simple responses) that runs before every route but /token:
// it authenticates the caller, decides by policy, and passes its decision
// to the function in the authorizer context (shared/authz). Build it with
// "make build".
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/berth-registry/berth/shared/app"
)

func main() {
	h, err := app.Authorizer(context.Background())
	if err != nil {
		slog.Error("start authorizer function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}
