package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/berth-registry/berth/shared/pullthrough"
	"github.com/berth-registry/berth/shared/retention"
)

// AsyncInvoker invokes a Lambda function asynchronously (InvocationType
// Event) with JSON payloads: Lambda queues each, retries a failed one
// twice, and the caller waits only for the queueing (~20 ms).
type AsyncInvoker struct {
	client   *awslambda.Client
	function string
}

// NewAsyncInvoker returns an invoker of the named function, with the
// SDK's default configuration.
func NewAsyncInvoker(ctx context.Context, function string) (*AsyncInvoker, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	return &AsyncInvoker{client: awslambda.NewFromConfig(cfg), function: function}, nil
}

// Invoke queues one invocation with payload as JSON.
func (a *AsyncInvoker) Invoke(ctx context.Context, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	_, err = a.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: &a.function, InvocationType: types.InvocationTypeEvent, Payload: b})
	return err
}

// DispatchFill implements pullthrough.Dispatcher: the blobs function
// hands a blob too large for its request to the fill function.
func (a *AsyncInvoker) DispatchFill(ctx context.Context, j pullthrough.Job) error {
	if err := a.Invoke(ctx, j); err != nil {
		return fmt.Errorf("dispatch fill of %s@%s: %w", j.Repo, j.Digest, err)
	}
	return nil
}

var _ pullthrough.Dispatcher = (*AsyncInvoker)(nil)

// LambdaDispatcher hands retention jobs to a Lambda function as
// asynchronous invocations: the retention function fans its own runs
// out this way, and the admin function hands runs started through the
// API to it, so no run is bound by one API request's 30 seconds.
type LambdaDispatcher struct{ inv *AsyncInvoker }

var _ retention.Dispatcher = (*LambdaDispatcher)(nil)

// NewLambdaDispatcher returns a dispatcher to the named function, with
// the SDK's default configuration.
func NewLambdaDispatcher(ctx context.Context, function string) (*LambdaDispatcher, error) {
	inv, err := NewAsyncInvoker(ctx, function)
	return &LambdaDispatcher{inv: inv}, err
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
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := d.inv.Invoke(ctx, j); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("dispatch %s: %w", j.Repository, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
