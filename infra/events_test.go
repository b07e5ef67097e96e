package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// The table streams new and old images; the events function reads it
// from the oldest record, with exactly the store's filters, reporting
// the first record it could not publish, and a dead-letter queue for
// what Lambda gives up on; it puts events on the stack's own bus, whose
// name it is given. Without dist/events.zip there is no mapping.
func TestEventsFlowFromTheStreamToTheBus(t *testing.T) {
	core, full := stacks(t)
	for _, tp := range []*tpl{core, full} {
		_, table := tp.one(t, "AWS::DynamoDB::Table")
		if got := path(table.Properties, "StreamSpecification", "StreamViewType"); got != "NEW_AND_OLD_IMAGES" {
			t.Errorf("table stream %v, want NEW_AND_OLD_IMAGES", got)
		}
		_, bus := tp.one(t, "AWS::Events::EventBus")
		if bus.Properties["Name"] != "berth-prod" {
			t.Errorf("bus name %v, want berth-prod", bus.Properties["Name"])
		}
	}
	if ids := core.ofType("AWS::Lambda::EventSourceMapping"); len(ids) != 0 {
		t.Errorf("event source mappings %v without dist/events.zip", ids)
	}
	labels := full.labels()
	_, m := full.one(t, "AWS::Lambda::EventSourceMapping")
	p := m.Properties
	if got := render(p["FunctionName"], labels); got != "fn:events" {
		t.Errorf("mapping invokes %s, want the events function", got)
	}
	if got := render(p["EventSourceArn"], labels); got != "table" {
		t.Errorf("mapping reads %s, want the table's stream", got)
	}
	if p["StartingPosition"] != "TRIM_HORIZON" || p["BatchSize"] != 100.0 || !slices.Contains(asList(p["FunctionResponseTypes"]), any("ReportBatchItemFailures")) {
		t.Errorf("mapping starts %v, batch %v, response types %v; want TRIM_HORIZON, 100, ReportBatchItemFailures",
			p["StartingPosition"], p["BatchSize"], p["FunctionResponseTypes"])
	}
	if p["MaximumRetryAttempts"] != nil || p["MaximumRecordAgeInSeconds"] != nil {
		t.Errorf("retries %v, record age %v: want Lambda's defaults (until the record expires)", p["MaximumRetryAttempts"], p["MaximumRecordAgeInSeconds"])
	}
	if got := render(path(p, "DestinationConfig", "OnFailure", "Destination"), labels); got != "queue:EventsDeadLetters" {
		t.Errorf("on-failure destination %s, want the events dead-letter queue", got)
	}
	var patterns []string
	for _, f := range asList(path(p, "FilterCriteria", "Filters")) {
		patterns = append(patterns, fmt.Sprint(path(f, "Pattern")))
	}
	if !slices.Equal(patterns, store.StreamFilters) {
		t.Errorf("filters %q, want store.StreamFilters %q", patterns, store.StreamFilters)
	}
	env := path(full.Resources[full.functions()[fnEvents]].Properties, "Environment", "Variables")
	if got := render(path(env, "BERTH_EVENT_BUS"), labels); got != "bus" {
		t.Errorf("BERTH_EVENT_BUS = %s, want the bus", got)
	}
	_, archive := full.one(t, "AWS::Events::Archive")
	if archive.Properties["RetentionDays"] != 7.0 || render(archive.Properties["SourceArn"], labels) != "bus" {
		t.Errorf("archive %v", archive.Properties)
	}
}

// The webhook option becomes an API destination fed by a rule on the
// bus: every Berth event, its detail as the body (what `make run`
// posts), the secret as a header from Secrets Manager, retried for a
// day into a dead-letter queue. Breaker trips reach the alarm topic.
func TestWebhookAndBreakerRules(t *testing.T) {
	core, full := stacks(t)
	if ids := core.ofType("AWS::Events::ApiDestination"); len(ids) != 0 {
		t.Errorf("API destinations %v without the webhookUrl option", ids)
	}
	labels := full.labels()
	_, dest := full.one(t, "AWS::Events::ApiDestination")
	if dest.Properties["InvocationEndpoint"] != fullWebhook || dest.Properties["HttpMethod"] != "POST" {
		t.Errorf("API destination %v", dest.Properties)
	}
	_, conn := full.one(t, "AWS::Events::Connection")
	key := path(conn.Properties, "AuthParameters", "ApiKeyAuthParameters")
	if path(key, "ApiKeyName") != "Berth-Webhook-Secret" || !strings.Contains(render(path(key, "ApiKeyValue"), labels), fullWebhookSecret) {
		t.Errorf("connection auth %v, want the Berth-Webhook-Secret header from %s", key, fullWebhookSecret)
	}
	rules := map[string]map[string]any{}
	for _, id := range full.ofType("AWS::Events::Rule") {
		r := full.Resources[id].Properties
		if r["EventBusName"] != nil {
			rules[fmt.Sprint(r["Description"])] = r
		}
	}
	hook := rules["Berth: every event to the webhook"]
	if hook == nil || render(hook["EventBusName"], labels) != "bus" {
		t.Fatalf("no webhook rule on the bus: %v", rules)
	}
	if src := path(hook, "EventPattern", "source"); fmt.Sprint(src) != "["+events.Source+"]" {
		t.Errorf("webhook rule source %v", src)
	}
	target := path(hook, "Targets", 0)
	if path(target, "InputPath") != "$.detail" || path(target, "RetryPolicy", "MaximumEventAgeInSeconds") != 86400.0 ||
		path(target, "DeadLetterConfig", "Arn") == nil {
		t.Errorf("webhook target %v: want the detail as body, a day of retries, a dead-letter queue", target)
	}
	breaker := rules["Berth: a retention run's circuit breaker held deletions back"]
	if breaker == nil {
		t.Fatal("no breaker rule")
	}
	pattern, _ := json.Marshal(breaker["EventPattern"])
	if got := fmt.Sprint(path(breaker, "EventPattern", "detail", "data", "breakerTrips", 0, "numeric")); got != "[> 0]" ||
		fmt.Sprint(path(breaker, "EventPattern", "detail-type")) != "["+events.RetentionRunFinished+"]" {
		t.Errorf("breaker pattern %s", pattern)
	}
	if got := path(breaker, "Targets", 0, "Arn"); got != fullAlarmTopic {
		t.Errorf("breaker target %v, want %s", got, fullAlarmTopic)
	}
}
