package main

import (
	"encoding/json"
	"testing"
)

// TestAccessLogIsJSONWithTheRequestID: the $default stage writes one
// JSON access-log line per request to a log group of the stack's, with
// the request id the client got (apigw-requestid, which the functions'
// log lines and error bodies also carry), the route and status, and the
// authorizer's and API Gateway's own errors.
func TestAccessLogIsJSONWithTheRequestID(t *testing.T) {
	core, full := stacks(t)
	for name, tp := range map[string]*tpl{"core": core, "full": full} {
		t.Run(name, func(t *testing.T) {
			_, st := tp.one(t, "AWS::ApiGatewayV2::Stage")
			dest, _ := path(st.Properties, "AccessLogSettings", "DestinationArn", "Fn::GetAtt", 0).(string)
			lg, ok := tp.Resources[dest]
			if !ok || lg.Type != "AWS::Logs::LogGroup" || lg.Properties["RetentionInDays"] != 30.0 {
				t.Fatalf("access log destination %v (%v): want a log group of the stack with 30 days' retention", st.Properties["AccessLogSettings"], lg)
			}
			format, _ := path(st.Properties, "AccessLogSettings", "Format").(string)
			var fields map[string]string
			if err := json.Unmarshal([]byte(format), &fields); err != nil {
				t.Fatalf("access log format %q is not JSON: %v", format, err)
			}
			for k, v := range map[string]string{
				"requestId": "$context.requestId", "routeKey": "$context.routeKey", "status": "$context.status",
				"responseLatency": "$context.responseLatency", "integrationError": "$context.integrationErrorMessage",
				"error": "$context.error.message", "authorizerError": "$context.authorizer.error",
				"tenancy": "$context.authorizer.tenancy", "user": "$context.authorizer.user",
			} {
				if fields[k] != v {
					t.Errorf("access log %s = %q, want %q", k, fields[k], v)
				}
			}
		})
	}
}

// TestEveryLogGroupIsTheStacksWithRetention: every log group in the
// stack has the configured retention, and every function logs to one of
// them (LoggingConfig), so none is left for Lambda to create on first
// use with logs kept forever.
func TestEveryLogGroupIsTheStacksWithRetention(t *testing.T) {
	core, full := stacks(t)
	for name, tp := range map[string]*tpl{"core": core, "full": full} {
		t.Run(name, func(t *testing.T) {
			groups := tp.ofType("AWS::Logs::LogGroup")
			for _, id := range groups {
				if days := tp.Resources[id].Properties["RetentionInDays"]; days != 30.0 {
					t.Errorf("log group %s keeps logs %v days, want 30 (logRetentionDays)", id, days)
				}
			}
			fns := tp.ofType("AWS::Lambda::Function")
			if len(fns) == 0 || len(groups) != len(fns)+1 {
				t.Errorf("%d log groups for %d functions, want one each and the access log's", len(groups), len(fns))
			}
			for _, id := range fns {
				lg, _ := path(tp.Resources[id].Properties, "LoggingConfig", "LogGroup", "Ref").(string)
				if r, ok := tp.Resources[lg]; !ok || r.Type != "AWS::Logs::LogGroup" {
					t.Errorf("function %s logs to %q, not a log group of the stack", id, lg)
				}
			}
		})
	}
}
