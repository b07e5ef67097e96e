// Command events is the Lambda function that publishes Berth's events:
// the metadata table's change stream (NEW_AND_OLD_IMAGES) invokes it
// with the records that may carry one (the event source's filters,
// store.StreamFilters), and it puts the events those records carry on
// the stack's EventBridge bus (BERTH_EVENT_BUS). docs/events.md says
// why the stream and not the functions themselves: an event rides its
// change's own write, so it exists exactly when the change committed,
// and the stream keeps it (24 hours, retried in order) until this
// function has published it. Build it with "make build".
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/eventbus"
	berthevents "github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/dynamo"
)

func main() {
	h, err := handler(context.Background())
	if err != nil {
		slog.Error("start events function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

// streamHandler is a DynamoDB stream handler with partial batch
// responses (ReportBatchItemFailures).
type streamHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

func handler(ctx context.Context) (streamHandler, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	// Not app.Logger: this function links none of the registry.
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	bus, err := eventbus.New(ctx, cfg.EventBus)
	if err != nil {
		return nil, err
	}
	return relay(counted{bus, metrics.New(os.Stdout, cfg.MetricsNamespace)}, log), nil
}

// counted is a Publisher that counts what it published
// (EventsPublished, docs/metrics.md).
type counted struct {
	berthevents.Publisher
	em *metrics.Emitter
}

func (c counted) Publish(ctx context.Context, evs []berthevents.Event) (int, error) {
	n, err := c.Publisher.Publish(ctx, evs)
	if n > 0 {
		c.em.Count(metrics.EventsPublished, float64(n))
	}
	return n, err
}

// relay publishes the events a batch of stream records carries. When
// publishing stops short it answers the first record not published as
// the batch's failure: Lambda retries from that record, in order, and
// keeps the records already done.
func relay(p berthevents.Publisher, log *slog.Logger) streamHandler {
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var cs []store.Committed
		for _, r := range ev.Records {
			if c, ok := dynamo.CommittedEvent(dynamo.ChangeOf(r)); ok {
				cs = append(cs, c)
			}
		}
		seq, err := berthevents.Relay(ctx, p, cs, log)
		if err != nil {
			log.ErrorContext(ctx, "publishing events failed; the stream retries from the first not published", "seq", seq, "error", err.Error())
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: seq}}}, nil
		}
		return events.DynamoDBEventResponse{}, nil
	}
}
