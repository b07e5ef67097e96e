// Package invoke invokes Lambda functions asynchronously (InvocationType
// Event) with JSON payloads: Lambda queues each, retries a failed one
// twice, and the caller waits only for the queueing (~20 ms). The
// retention function fans its runs out this way (shared/app/retentionfn)
// and the blobs function hands long pull-through fills to the fill
// function (shared/app/fillfn). It calls Lambda through shared/awscall,
// not the SDK's Lambda client, which would cost the registry functions
// that fill over a megabyte of bootstrap and its package init.
package invoke

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/berth-registry/berth/shared/awscall"
)

// Async invokes one function asynchronously.
type Async struct {
	lambda   *awscall.Lambda
	function string
}

// New returns an invoker of the named function with the SDK
// configuration cfg (and the endpoint AWS_ENDPOINT_URL_LAMBDA names,
// for Lambda mode's invoke API).
func New(cfg aws.Config, function string) *Async {
	return &Async{lambda: awscall.NewLambda(cfg), function: function}
}

// Invoke queues one invocation with payload as JSON.
func (a *Async) Invoke(ctx context.Context, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	return a.lambda.InvokeEvent(ctx, a.function, b)
}
