// Command retention is the Lambda function that EventBridge calls every
// hour (events/retention-scheduled.json): it starts a retention run in
// every tenancy, fans each run out as one job per repository
// (events/retention-job.json), then collects garbage. Build it with
// "make build".
//
// Fan-out is by asynchronous self-invocation (InvocationType Event), not
// an SQS queue: Lambda's own queue for async invocations already gives
// at-least-once delivery with two retries and an on-failure destination,
// jobs are idempotent (a retried job redoes only what is left), and the
// stack needs no queue, event-source mapping or extra IAM beyond
// lambda:InvokeFunction on itself. A queue would add batching and
// fine-grained concurrency control, which a job per repository (seconds
// each) does not need; the function's reserved concurrency bounds the
// parallelism instead. A tenancy of millions of images spread over
// thousands of repositories thus finishes in minutes, each job far from
// the 15-minute limit.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/store"
)

func main() {
	h, err := handler(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("start retention function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

// handler builds the function's handler from the environment. Inside
// Lambda (AWS_LAMBDA_FUNCTION_NAME set) jobs are dispatched to the
// function itself; elsewhere they run in the invocation.
func handler(ctx context.Context, getenv func(string) string) (func(context.Context, json.RawMessage) (retention.Result, error), error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	rcfg, err := retention.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	log := app.Logger(cfg.LogLevel)
	slog.SetDefault(log)
	stores, err := backend.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ret, ok := stores.Meta.(store.Retention)
	if !ok {
		return nil, fmt.Errorf("the %s backend does not store retention state yet", cfg.Backend)
	}
	clk := app.Clock(cfg)
	app.UseClock(stores, clk)
	rcfg.TestClock = clk.Test()
	us, _ := stores.Meta.(store.UsageStore)
	svc := retention.New(retention.Stores{Meta: stores.Meta, Ret: ret, Blobs: stores.Blobs, Tenancies: stores.IDs, Usage: us}, rcfg, log,
		retention.WithMetrics(app.Metrics(cfg)))
	svc.Now = clk.Now
	if fn := getenv("AWS_LAMBDA_FUNCTION_NAME"); fn != "" {
		d, err := backend.NewLambdaDispatcher(ctx, fn)
		if err != nil {
			return nil, err
		}
		svc.Dispatch = d
	}
	return svc.Handle, nil
}

// invoker dispatches jobs as asynchronous invocations of a function.
