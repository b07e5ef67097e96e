package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// eventBus is the bus Berth's events go to (docs/events.md): its own,
// so rules and permissions about it concern Berth alone; with an
// archive of every event for replay, when configured.
func (s *Stack) eventBus() {
	s.Bus = awsevents.NewEventBus(s.Stack, jsii.String("EventBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String("berth-" + s.cfg.Stage),
		Description:  jsii.String("Berth registry events (docs/events.md)"),
	})
	if s.cfg.EventArchiveDays > 0 {
		s.Bus.Archive(jsii.String("EventArchive"), &awsevents.BaseArchiveProps{
			Description:  jsii.String("every Berth event, for replay"),
			EventPattern: &awsevents.EventPattern{Source: jsii.Strings(events.Source)},
			Retention:    awscdk.Duration_Days(jsii.Number(float64(s.cfg.EventArchiveDays))),
		})
	}
}

// publishEvents connects the table's change stream to the events
// function: only the records that may carry an event
// (store.StreamFilters), from the oldest the stream holds (a mapping
// created on a table in use loses nothing written before it), 100 a
// batch, in order (one batch per shard at a time). The function answers
// the first record it could not publish as the batch's failure; Lambda
// retries from there until the record expires (24 hours), then leaves
// the batch's description in the dead-letter queue.
func (s *Stack) publishEvents() {
	fn, ok := s.Functions[fnEvents]
	if !ok {
		return
	}
	s.EventsDLQ = awssqs.NewQueue(s.Stack, jsii.String("EventsDeadLetters"), &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	s.deadLetters = append(s.deadLetters, s.EventsDLQ)
	var filters []*map[string]any
	for _, p := range store.StreamFilters {
		filters = append(filters, &map[string]any{"pattern": p})
	}
	awslambda.NewEventSourceMapping(s.Stack, jsii.String("EventsStream"), &awslambda.EventSourceMappingProps{
		Target:                  fn,
		EventSourceArn:          s.Table.TableStreamArn(),
		StartingPosition:        awslambda.StartingPosition_TRIM_HORIZON,
		BatchSize:               jsii.Number(100),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(1)),
		ParallelizationFactor:   jsii.Number(1),
		ReportBatchItemFailures: jsii.Bool(true),
		Filters:                 &filters,
		OnFailure:               awslambdaeventsources.NewSqsDlq(s.EventsDLQ),
	})
}

// webhook delivers every event to the configured URL through an API
// destination: EventBridge signs nothing, so the connection sends the
// secret (kept by EventBridge in Secrets Manager) as the header
// Berth-Webhook-Secret, which the receiver compares in constant time.
// The body is the event itself ($.detail), as `make run` posts it;
// EventBridge retries for 24 hours, then leaves it in a dead-letter
// queue. Berth writes no delivery loop on AWS.
func (s *Stack) webhook() {
	if s.cfg.WebhookURL == "" {
		return
	}
	conn := awsevents.NewConnection(s.Stack, jsii.String("WebhookConnection"), &awsevents.ConnectionProps{
		Description: jsii.String("Berth webhook: the shared secret as a header"),
		Authorization: awsevents.Authorization_ApiKey(jsii.String("Berth-Webhook-Secret"),
			awscdk.SecretValue_SecretsManager(jsii.String(s.cfg.WebhookSecretArn), nil)),
	})
	dest := awsevents.NewApiDestination(s.Stack, jsii.String("WebhookDestination"), &awsevents.ApiDestinationProps{
		Connection:         conn,
		Endpoint:           jsii.String(s.cfg.WebhookURL),
		HttpMethod:         awsevents.HttpMethod_POST,
		RateLimitPerSecond: jsii.Number(s.cfg.WebhookRate),
		Description:        jsii.String("Berth webhook"),
	})
	dlq := awssqs.NewQueue(s.Stack, jsii.String("WebhookDeadLetters"), &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	s.deadLetters = append(s.deadLetters, dlq)
	awsevents.NewRule(s.Stack, jsii.String("WebhookRule"), &awsevents.RuleProps{
		Description:  jsii.String("Berth: every event to the webhook"),
		EventBus:     s.Bus,
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(events.Source)},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewApiDestination(dest, &awseventstargets.ApiDestinationProps{
			Event: awsevents.RuleTargetInput_FromEventPath(jsii.String("$.detail")),
			HeaderParameters: &map[string]*string{
				"Berth-Event-Type": jsii.String("$.detail.type"),
				"Berth-Event-Id":   jsii.String("$.detail.id"),
			},
			RetryAttempts:   jsii.Number(185),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
			DeadLetterQueue: dlq,
		})},
	})
}

// breakerRule pages the alarm topic when a retention run's circuit
// breaker held deletions back, with the run's event as the message.
func (s *Stack) breakerRule(topic awssns.ITopic) {
	awsevents.NewRule(s.Stack, jsii.String("BreakerTripRule"), &awsevents.RuleProps{
		Description: jsii.String("Berth: a retention run's circuit breaker held deletions back"),
		EventBus:    s.Bus,
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(events.Source),
			DetailType: jsii.Strings(events.RetentionRunFinished),
			Detail: &map[string]any{"data": map[string]any{
				"breakerTrips": []any{map[string]any{"numeric": []any{">", 0}}},
			}},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSnsTopic(topic, &awseventstargets.SnsTopicProps{
			Message: awsevents.RuleTargetInput_FromEventPath(jsii.String("$.detail")),
		})},
	})
}
