// Package eventbus publishes Berth's events to an EventBridge bus (the
// one the CDK stack creates): source "berth", detail-type the event's
// type, detail the event itself (docs/events.md). functions/events is
// its one user.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/berth-registry/berth/shared/awsenv"
	"github.com/berth-registry/berth/shared/events"
)

// Bus is one EventBridge event bus.
type Bus struct {
	client *eventbridge.Client
	name   string
}

var _ events.Publisher = (*Bus)(nil)

// New returns the bus named name, with the SDK's configuration from
// Lambda's environment (shared/awsenv: the region, the role's
// credentials, AWS_ENDPOINT_URL_EVENTBRIDGE or AWS_ENDPOINT_URL).
func New(ctx context.Context, name string) (*Bus, error) {
	cfg, err := awsenv.Config(ctx)
	if err != nil {
		return nil, err
	}
	ep := awsenv.Endpoint("EVENTBRIDGE")
	return &Bus{name: name, client: eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
		if ep != nil {
			o.BaseEndpoint = ep
		}
	})}, nil
}

// Publish implements events.Publisher with PutEvents, ten entries a
// request. EventBridge answers per entry: the first it refused (a
// throttle, an internal failure) ends the call, and the events after it
// are left for the caller's retry, so their order holds.
func (b *Bus) Publish(ctx context.Context, evs []events.Event) (int, error) {
	sent := 0
	for start := 0; start < len(evs); start += 10 {
		chunk := evs[start:min(start+10, len(evs))]
		entries := make([]types.PutEventsRequestEntry, 0, len(chunk))
		for _, ev := range chunk {
			detail, err := json.Marshal(ev)
			if err != nil {
				return sent, err
			}
			entries = append(entries, types.PutEventsRequestEntry{
				EventBusName: aws.String(b.name), Source: aws.String(events.Source),
				DetailType: aws.String(ev.Type), Detail: aws.String(string(detail)), Time: aws.Time(ev.Time),
			})
		}
		out, err := b.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return sent, fmt.Errorf("eventbridge put events: %w", err)
		}
		for i, e := range out.Entries {
			if e.ErrorCode != nil {
				return sent + i, fmt.Errorf("eventbridge refused event %s: %s: %s", chunk[i].ID, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
			}
		}
		if len(out.Entries) != len(chunk) {
			return sent, fmt.Errorf("eventbridge answered %d entries for %d events", len(out.Entries), len(chunk))
		}
		sent += len(chunk)
	}
	return sent, nil
}
