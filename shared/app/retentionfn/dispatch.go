package retentionfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/retention"
)

// LambdaDispatcher hands retention jobs to a Lambda function as
// asynchronous invocations (InvocationType Event): the retention
// function fans its own runs out this way, and the admin function hands
// runs started through the API to it, so no run is bound by one API
// request's 30 seconds.
type LambdaDispatcher struct {
	client   *awslambda.Client
	function string
}

var _ retention.Dispatcher = (*LambdaDispatcher)(nil)

// NewLambdaDispatcher returns a dispatcher to the named function, with
// the SDK configuration cfg (and the endpoint backend.Endpoint names).
func NewLambdaDispatcher(cfg aws.Config, function string) *LambdaDispatcher {
	ep := backend.Endpoint("LAMBDA")
	return &LambdaDispatcher{function: function, client: awslambda.NewFromConfig(cfg, func(o *awslambda.Options) {
		if ep != nil {
			o.BaseEndpoint = ep
		}
	})}
}

// Dispatch implements retention.Dispatcher, 16 invocations at a time
// (each a ~20 ms API call, so 10,000 repositories take seconds).
func (d *LambdaDispatcher) Dispatch(ctx context.Context, jobs []retention.Job) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 16)
	)
	for _, j := range jobs {
		payload, err := json.Marshal(j)
		if err != nil {
			return err
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := d.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: &d.function, InvocationType: types.InvocationTypeEvent, Payload: payload})
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("dispatch %s: %w", j.Repository, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
