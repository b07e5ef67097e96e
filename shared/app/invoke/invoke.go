// Package invoke invokes Lambda functions asynchronously (InvocationType
// Event) with JSON payloads: Lambda queues each, retries a failed one
// twice, and the caller waits only for the queueing (~20 ms). The
// retention function fans its runs out this way (shared/app/retentionfn)
// and the blobs function hands long pull-through fills to the fill
// function (shared/app/fillfn). It is its own package so that only the
// functions that invoke another link the Lambda client.
package invoke

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/berth-registry/berth/shared/backend"
)

// Async invokes one function asynchronously.
type Async struct {
	client   *awslambda.Client
	function string
}

// New returns an invoker of the named function with the SDK
// configuration cfg (and the endpoint backend.Endpoint names, for
// Lambda mode's emulator).
func New(cfg aws.Config, function string) *Async {
	ep := backend.Endpoint("LAMBDA")
	return &Async{function: function, client: awslambda.NewFromConfig(cfg, func(o *awslambda.Options) {
		if ep != nil {
			o.BaseEndpoint = ep
		}
	})}
}

// Invoke queues one invocation with payload as JSON.
func (a *Async) Invoke(ctx context.Context, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	_, err = a.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: &a.function, InvocationType: types.InvocationTypeEvent, Payload: b})
	return err
}
