// Package retentionfn wires the retention service: the hourly retention
// function (functions/retention), which EventBridge and its own fan-out
// invoke, and the retention API the admin function serves. On AWS both
// hand repository jobs to the retention function as asynchronous
// invocations (dispatch.go).
package retentionfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/retention"
)

// Service builds the retention service over opened stores, on the
// environment's clock. Jobs go to the Lambda function named by
// dispatchTo ("" runs them in the caller, as berth serve does).
func Service(ctx context.Context, env app.Env, stores *backend.Stores, dispatchTo string) (*retention.Service, error) {
	rcfg, err := retention.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	rcfg.TestClock = env.Clock.Test()
	var opts []retention.Option
	if env.Metrics != nil {
		opts = append(opts, retention.WithMetrics(env.Metrics))
	}
	svc := retention.New(retention.Stores{Meta: stores.Meta, Ret: stores.Meta, Blobs: stores.Blobs, Tenancies: stores.IDs, Usage: stores.Meta}, rcfg, env.Log, opts...)
	svc.Now = env.Clock.Now
	if dispatchTo != "" {
		awsCfg, err := env.SDK(ctx)
		if err != nil {
			return nil, err
		}
		svc.Dispatch = NewLambdaDispatcher(awsCfg, dispatchTo)
	}
	return svc, nil
}

// Event is what the retention function receives: EventBridge's
// scheduled event (source "aws.events", detail-type "Scheduled Event",
// events/retention-scheduled.json), a repository Job from the fan-out
// (events/retention-job.json), or {"action": "gc"}.
type Event struct {
	Source     string `json:"source,omitempty"`
	DetailType string `json:"detail-type,omitempty"`
	Action     string `json:"action,omitempty"`
	retention.Job
}

// Handler is the retention function's Lambda handler.
type Handler func(ctx context.Context, raw json.RawMessage) (retention.Result, error)

// Handle returns the handler that runs one invocation with svc.
func Handle(svc *retention.Service) Handler {
	return func(ctx context.Context, raw json.RawMessage) (retention.Result, error) {
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return retention.Result{}, fmt.Errorf("retention event is not JSON: %w", err)
		}
		switch {
		case ev.RunID != "" && ev.Repository != "" && ev.Tenancy != "":
			out, err := svc.RunRepository(ctx, ev.Job)
			return retention.Result{Job: &out}, err
		case ev.DetailType == "Scheduled Event":
			return svc.Hourly(ctx)
		case ev.Action == "gc":
			c, err := svc.Collect(ctx, svc.Now())
			return retention.Result{Collection: &c}, err
		}
		return retention.Result{}, errors.New(`retention event is neither a scheduled event, a repository job ({"tenancy", "repository", "runId"}) nor {"action": "gc"}`)
	}
}

// New returns the retention function's Lambda handler, with its stores
// opened from the environment. Inside Lambda (AWS_LAMBDA_FUNCTION_NAME
// set) jobs are dispatched to the function itself; elsewhere they run in
// the invocation.
func New(ctx context.Context) (Handler, error) {
	env, stores, err := app.LoadAWS(ctx)
	if err != nil {
		return nil, err
	}
	svc, err := Service(ctx, env, stores, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
	if err != nil {
		return nil, err
	}
	return Handle(svc), nil
}
