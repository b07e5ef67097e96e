package main

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// The hourly rule hands the retention function EventBridge's own
// scheduled event, whose detail-type retention.Handle dispatches on
// (events/retention-scheduled.json is one), and may invoke it.
func TestRetentionRunsHourlyOnTheScheduledEvent(t *testing.T) {
	core, full := stacks(t)
	if ids := scheduled(core); len(ids) != 0 {
		t.Errorf("schedule %v without dist/retention.zip", ids)
	}
	labels := full.labels()
	rules := scheduled(full)
	if len(rules) != 1 {
		t.Fatalf("%d scheduled rules, want 1", len(rules))
	}
	ruleID, rule := rules[0], full.Resources[rules[0]]
	if got := rule.Properties["ScheduleExpression"]; got != "rate(1 hour)" {
		t.Errorf("schedule %v, want rate(1 hour)", got)
	}
	if p := rule.Properties["EventPattern"]; p != nil {
		t.Errorf("rule has an event pattern %v, want a schedule only", p)
	}
	targets, _ := rule.Properties["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("%d targets, want 1", len(targets))
	}
	if got := render(path(targets[0], "Arn"), labels); got != "fn:retention" {
		t.Errorf("schedule target %s, want the retention function", got)
	}
	for _, k := range []string{"Input", "InputPath", "InputTransformer"} {
		if v := path(targets[0], k); v != nil {
			t.Errorf("target %s = %v: the function must get the scheduled event itself", k, v)
		}
	}
	raw, err := os.ReadFile("../events/retention-scheduled.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	// What EventBridge sends for a schedule rule, and what
	// retention.Event reads.
	if ev["source"] != "aws.events" || ev["detail-type"] != "Scheduled Event" {
		t.Errorf("events/retention-scheduled.json has source %v, detail-type %v; want aws.events, Scheduled Event", ev["source"], ev["detail-type"])
	}
	var perms []string
	for _, id := range full.ofType("AWS::Lambda::Permission") {
		p := full.Resources[id].Properties
		if p["Principal"] == "events.amazonaws.com" {
			perms = append(perms, fmt.Sprint(p["Action"], " ", render(p["FunctionName"], labels), " from ", render(p["SourceArn"], labels)))
		}
	}
	if want := "lambda:InvokeFunction fn:retention from " + ruleID; len(perms) != 1 || perms[0] != want {
		t.Errorf("EventBridge permissions %q, want exactly %q", perms, want)
	}
}

// Reserved concurrency bounds the fan-out's parallelism; the routed
// functions keep the account's shared pool.
func TestRetentionConcurrencyIsReserved(t *testing.T) {
	_, full := stacks(t)
	for name, id := range full.functions() {
		got := full.Resources[id].Properties["ReservedConcurrentExecutions"]
		switch {
		case name == fnRetention && got != float64(fullConcurrency):
			t.Errorf("retention: reserved concurrency %v, want %d", got, fullConcurrency)
		case name != fnRetention && got != nil:
			t.Errorf("%s: reserved concurrency %v, want none", name, got)
		}
	}
}

// scheduled returns the ids of a template's scheduled rules.
func scheduled(tp *tpl) []string {
	var out []string
	for _, id := range tp.ofType("AWS::Events::Rule") {
		if tp.Resources[id].Properties["ScheduleExpression"] != nil {
			out = append(out, id)
		}
	}
	return out
}
