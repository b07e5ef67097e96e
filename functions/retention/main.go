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

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/retentionfn"
)

func main() {
	h, err := retentionfn.New(context.Background())
	app.Start("retention", h, err)
}
