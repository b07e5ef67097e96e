package awscall

import (
	"context"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Lambda calls AWS Lambda's Invoke with InvocationType Event (REST-JSON:
// POST /2015-03-31/functions/{name}/invocations).
type Lambda struct{ c *client }

// NewLambda returns a Lambda caller with cfg's region and credentials,
// at the endpoint the environment names for Lambda
// (AWS_ENDPOINT_URL_LAMBDA: Lambda mode's invoke API), else
// https://lambda.<region>.amazonaws.com.
func NewLambda(cfg aws.Config) *Lambda { return &Lambda{c: newClient(cfg, "lambda")} }

// InvokeEvent queues one asynchronous invocation of function (a name,
// partial ARN or ARN) with payload, a JSON document: Lambda answers 202
// once it is queued, and retries a failed invocation twice. A refusal
// is an *Error, e.g. ResourceNotFoundException.
func (l *Lambda) InvokeEvent(ctx context.Context, function string, payload []byte) error {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Invocation-Type", "Event")
	_, err := l.c.do(ctx, "Invoke", "/2015-03-31/functions/"+url.PathEscape(function)+"/invocations", h, payload, http.StatusAccepted)
	return err
}
