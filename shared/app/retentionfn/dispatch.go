package retentionfn

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/berth-registry/berth/shared/app/invoke"
	"github.com/berth-registry/berth/shared/retention"
)

// LambdaDispatcher hands retention jobs to a Lambda function as
// asynchronous invocations: the retention function fans its own runs
// out this way, and the admin function hands runs started through the
// API to it, so no run is bound by one API request's 30 seconds.
type LambdaDispatcher struct{ inv *invoke.Async }

var _ retention.Dispatcher = (*LambdaDispatcher)(nil)

// NewLambdaDispatcher returns a dispatcher to the named function, with
// the SDK configuration cfg.
func NewLambdaDispatcher(cfg aws.Config, function string) *LambdaDispatcher {
	return &LambdaDispatcher{inv: invoke.New(cfg, function)}
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
