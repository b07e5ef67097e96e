// Command hello is the cold-start benchmark's baseline: the smallest
// aws-lambda-go function, answering an API Gateway payload-2.0 event.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "hello"}, nil
}

func main() { lambda.Start(handle) }
