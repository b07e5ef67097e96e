package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/metrics"
)

// Every function logs its metrics into Berth/<stage>.
func TestFunctionsKnowTheirMetricsNamespace(t *testing.T) {
	_, full := stacks(t)
	for name, id := range full.functions() {
		if got := path(full.Resources[id].Properties, "Environment", "Variables", "BERTH_METRICS_NAMESPACE"); got != "Berth/prod" {
			t.Errorf("%s: BERTH_METRICS_NAMESPACE %v, want Berth/prod", name, got)
		}
	}
}

// The alarms docs/metrics.md lists exist, on the metrics they name,
// notifying the alarm topic (on alarm and on OK) when one is given.
func TestAlarms(t *testing.T) {
	core, full := stacks(t)
	alarms := func(tp *tpl) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, id := range tp.ofType("AWS::CloudWatch::Alarm") {
			p := tp.Resources[id].Properties
			out[strings.TrimPrefix(fmt.Sprint(p["AlarmName"]), "berth-prod-")] = p
		}
		return out
	}
	got := alarms(full)
	want := []string{"5xx-rate", "authorizer-errors", "dynamodb-throttles", "retention-breaker", "retention-not-finishing", "events-undelivered"}
	for _, f := range functionTable() {
		want = append(want, "throttles-"+f.Name)
	}
	for _, name := range want {
		a := got[name]
		if a == nil {
			t.Errorf("no alarm %s", name)
			continue
		}
		if fmt.Sprint(a["AlarmActions"]) != "["+fullAlarmTopic+"]" || fmt.Sprint(a["OKActions"]) != "["+fullAlarmTopic+"]" {
			t.Errorf("%s notifies %v / %v, want %s", name, a["AlarmActions"], a["OKActions"], fullAlarmTopic)
		}
		delete(got, name)
	}
	for name := range got {
		t.Errorf("alarm %s is not documented", name)
	}
	a := alarms(full)
	if p := a["retention-not-finishing"]; p["MetricName"] != metrics.RetentionRunsFinished || p["Namespace"] != "Berth/prod" ||
		p["TreatMissingData"] != "breaching" || p["ComparisonOperator"] != "LessThanThreshold" {
		t.Errorf("retention-not-finishing: %v", p)
	}
	if p := a["retention-breaker"]; p["MetricName"] != metrics.RetentionBreakerTrips || p["Namespace"] != "Berth/prod" {
		t.Errorf("retention-breaker: %v", p)
	}
	// An alarm watches one series: the functions must log these two
	// without dimensions, as the alarms read them.
	for _, name := range []string{"retention-breaker", "retention-not-finishing"} {
		if d := a[name]["Dimensions"]; d != nil || len(metrics.Dimensions[fmt.Sprint(a[name]["MetricName"])]) != 0 {
			t.Errorf("%s: alarm dimensions %v, logged dimensions %v; want none", name, d, metrics.Dimensions[fmt.Sprint(a[name]["MetricName"])])
		}
	}
	if p := a["authorizer-errors"]; p["MetricName"] != "Errors" || p["Namespace"] != "AWS/Lambda" {
		t.Errorf("authorizer-errors: %v", p)
	}
	rate := fmt.Sprint(a["5xx-rate"]["Metrics"])
	if !strings.Contains(rate, "5xx") || !strings.Contains(rate, "Count") || !strings.Contains(rate, "AWS/ApiGateway") {
		t.Errorf("5xx-rate metrics: %s", rate)
	}
	for name, p := range alarms(core) {
		if p["AlarmActions"] != nil {
			t.Errorf("core stack (no alarmTopicArn): %s notifies %v", name, p["AlarmActions"])
		}
		if strings.HasPrefix(name, "retention") || name == "authorizer-errors" || name == "events-undelivered" {
			t.Errorf("core stack has alarm %s of a function it lacks", name)
		}
	}
}

// The dashboard shows the API, the routes, tenancies, functions, the
// table, retention and events.
func TestDashboard(t *testing.T) {
	_, full := stacks(t)
	_, d := full.one(t, "AWS::CloudWatch::Dashboard")
	if d.Properties["DashboardName"] != "berth-prod" {
		t.Errorf("dashboard name %v", d.Properties["DashboardName"])
	}
	body := render(d.Properties["DashboardBody"], full.labels())
	for _, want := range []string{
		"API requests and 5xx", "Requests by route", "SEARCH('{Berth/prod,Function,Route} MetricName=\\\"Requests\\\"'",
		"Pulls by tenancy", "Pushes by tenancy", "Bytes uploaded by tenancy", "Bytes stored by tenancy", "Authorizer denials",
		"Lambda throttles by function", "DynamoDB throttles", "ReadThrottleEvents",
		"Retention: deletions, breaker trips, runs finished", "GCBytesFreed", "EventsPublished", "IteratorAge",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
}
