// Command token is the Lambda function that serves the Docker token-auth
// endpoint (/token), the one route without the authorizer. Build it with
// "make build".
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
	h, err := app.Function(context.Background(), route.Token)
	if err != nil {
		slog.Error("start token function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}
