package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/route"
)

// metricsNamespace is the CloudWatch namespace of the functions' EMF
// metrics (BERTH_METRICS_NAMESPACE).
func (s *Stack) metricsNamespace() string { return "Berth/" + s.cfg.Stage }

var fiveMinutes = awscdk.Duration_Minutes(jsii.Number(5))

// emf is one of the functions' own metrics, summed.
func (s *Stack) emf(name string, period awscdk.Duration) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(s.metricsNamespace()), MetricName: jsii.String(name),
		Statistic: jsii.String("Sum"), Period: period,
	})
}

// search is every series of an EMF metric over its dimensions (a
// dashboard's SEARCH: alarms cannot use one).
func (s *Stack) search(name, stat string) awscloudwatch.MathExpression {
	dims := ""
	for _, d := range metrics.Dimensions[name] {
		dims += "," + d
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf("SEARCH('{%s%s} MetricName=\"%s\"', '%s', 300)", s.metricsNamespace(), dims, name, stat)),
		Label:      jsii.String(name),
		Period:     fiveMinutes,
	})
}

// monitoring creates the dashboard and the alarms (docs/metrics.md);
// the alarms notify the topic AlarmTopicArn names, as does the rule for
// retention breaker trips.
func (s *Stack) monitoring() {
	var topic awssns.ITopic
	if s.cfg.AlarmTopicArn != "" {
		topic = awssns.Topic_FromTopicArn(s.Stack, jsii.String("AlarmTopic"), jsii.String(s.cfg.AlarmTopicArn))
		s.breakerRule(topic)
	}
	s.alarms(topic)
	s.dashboard()
}

// alarm creates one alarm notifying topic (nil: none).
func (s *Stack) alarm(topic awssns.ITopic, id, suffix, desc string, o awscloudwatch.CreateAlarmOptions, metric awscloudwatch.IMetric) {
	a := awscloudwatch.NewAlarm(s.Stack, jsii.String(id), &awscloudwatch.AlarmProps{
		Metric:             metric,
		AlarmName:          jsii.String("berth-" + s.cfg.Stage + "-" + suffix),
		AlarmDescription:   jsii.String(desc + " (docs/metrics.md)"),
		Threshold:          o.Threshold,
		EvaluationPeriods:  o.EvaluationPeriods,
		DatapointsToAlarm:  o.DatapointsToAlarm,
		ComparisonOperator: o.ComparisonOperator,
		TreatMissingData:   o.TreatMissingData,
	})
	if topic != nil {
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		a.AddOkAction(awscloudwatchactions.NewSnsAction(topic))
	}
	s.Alarms = append(s.Alarms, a)
}

func (s *Stack) alarms(topic awssns.ITopic) {
	errors5xx := s.API.MetricServerError(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")})
	count := s.API.MetricCount(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")})
	rate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String("IF(requests > 0, 100 * errors / requests, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{"errors": errors5xx, "requests": count},
		Label:        jsii.String("5xx %"), Period: fiveMinutes,
	})
	s.alarm(topic, "Alarm5xxRate", "5xx-rate", "More than 5% of the API's requests answered 5xx for 15 minutes",
		awscloudwatch.CreateAlarmOptions{Threshold: jsii.Number(5), EvaluationPeriods: jsii.Number(3),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING}, rate)
	if fn, ok := s.Functions[route.Authorizer]; ok {
		s.alarm(topic, "AlarmAuthorizerErrors", "authorizer-errors", "The authorizer function failed: API Gateway answers 500 while it does",
			awscloudwatch.CreateAlarmOptions{Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(3), DatapointsToAlarm: jsii.Number(2),
				ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING},
			fn.MetricErrors(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}))
	}
	for _, f := range s.fns {
		fn := s.Functions[f.Name]
		s.alarm(topic, "AlarmThrottles"+f.logicalName(), "throttles-"+f.Name, "Lambda throttled the "+f.Name+" function",
			awscloudwatch.CreateAlarmOptions{Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
				ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING},
			fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}))
	}
	throttled := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("reads + writes"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"reads":  s.Table.Metric(jsii.String("ReadThrottleEvents"), &awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}),
			"writes": s.Table.Metric(jsii.String("WriteThrottleEvents"), &awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}),
		},
		Label: jsii.String("throttled requests"), Period: fiveMinutes,
	})
	s.alarm(topic, "AlarmDynamoDBThrottles", "dynamodb-throttles", "DynamoDB throttled reads or writes of the table",
		awscloudwatch.CreateAlarmOptions{Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING}, throttled)
	if _, ok := s.Functions[fnRetention]; ok {
		hour := awscdk.Duration_Hours(jsii.Number(1))
		s.alarm(topic, "AlarmRetentionBreaker", "retention-breaker", "The circuit breaker held a real retention run's deletions back",
			awscloudwatch.CreateAlarmOptions{Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
				ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING}, s.emf(metrics.RetentionBreakerTrips, hour))
		s.alarm(topic, "AlarmRetentionNotFinishing", "retention-not-finishing", "No retention run finished for 3 hours: the hourly run is not finishing",
			awscloudwatch.CreateAlarmOptions{Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(3),
				ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING}, s.emf(metrics.RetentionRunsFinished, hour))
	}
	if len(s.deadLetters) > 0 {
		using := map[string]awscloudwatch.IMetric{}
		expr := ""
		for i, q := range s.deadLetters {
			k := fmt.Sprintf("q%d", i)
			using[k] = q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Maximum")})
			if expr != "" {
				expr += " + "
			}
			expr += k
		}
		waiting := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(expr), UsingMetrics: &using, Label: jsii.String("undelivered"), Period: fiveMinutes,
		})
		s.alarm(topic, "AlarmEventsUndelivered", "events-undelivered", "Events could not be delivered: a dead-letter queue holds a message",
			awscloudwatch.CreateAlarmOptions{Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
				ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING}, waiting)
	}
}

// graph is a dashboard graph of metrics.
func graph(title string, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String(title), Left: &left, Width: jsii.Number(12), Height: jsii.Number(6),
	})
}

func (s *Stack) dashboard() {
	opts := func(stat string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String(stat)}
	}
	var fnErrors, fnThrottles, fnDuration []awscloudwatch.IMetric
	for _, f := range s.fns {
		fn := s.Functions[f.Name]
		label := &awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum"), Label: jsii.String(f.Name)}
		fnErrors = append(fnErrors, fn.MetricErrors(label))
		fnThrottles = append(fnThrottles, fn.MetricThrottles(label))
		fnDuration = append(fnDuration, fn.MetricDuration(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("p99"), Label: jsii.String(f.Name)}))
	}
	rows := []awscloudwatch.IWidget{
		graph("API requests and 5xx", s.API.MetricCount(opts("Sum")), s.API.MetricServerError(opts("Sum")), s.API.MetricClientError(opts("Sum"))),
		graph("API latency p50 / p99", s.API.MetricLatency(opts("p50")), s.API.MetricLatency(opts("p99"))),
		graph("Requests by route", s.search(metrics.Requests, "Sum")),
		graph("5xx by route", s.search(metrics.Errors, "Sum")),
		graph("Latency p99 by route (ms)", s.search(metrics.Latency, "p99")),
		graph("Authorizer denials by status", s.search(metrics.AuthorizerDenials, "Sum")),
		graph("Pulls by tenancy", s.search(metrics.Pulls, "Sum")),
		graph("Pushes by tenancy", s.search(metrics.Pushes, "Sum")),
		graph("Bytes uploaded by tenancy", s.search(metrics.BytesUploaded, "Sum")),
		graph("Bytes stored by tenancy", s.search(metrics.StoredBytes, "Maximum")),
		graph("Lambda errors by function", fnErrors...),
		graph("Lambda throttles by function", fnThrottles...),
		graph("Lambda duration p99 by function", fnDuration...),
		graph("DynamoDB capacity", s.Table.MetricConsumedReadCapacityUnits(opts("Sum")), s.Table.MetricConsumedWriteCapacityUnits(opts("Sum"))),
		graph("DynamoDB throttles",
			s.Table.Metric(jsii.String("ReadThrottleEvents"), opts("Sum")), s.Table.Metric(jsii.String("WriteThrottleEvents"), opts("Sum"))),
		graph("Retention: deletions, breaker trips, runs finished",
			s.search(metrics.RetentionDeletions, "Sum"), s.emf(metrics.RetentionBreakerTrips, fiveMinutes), s.emf(metrics.RetentionRunsFinished, fiveMinutes)),
		graph("Garbage collection: bytes freed", s.emf(metrics.GCBytesFreed, fiveMinutes)),
	}
	if fn, ok := s.Functions[fnEvents]; ok {
		rows = append(rows, graph("Events published, and the stream's iterator age (ms)", s.emf(metrics.EventsPublished, fiveMinutes),
			fn.Metric(jsii.String("IteratorAge"), opts("Maximum"))))
	}
	s.Dashboard = awscloudwatch.NewDashboard(s.Stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String("berth-" + s.cfg.Stage),
	})
	for i := 0; i < len(rows); i += 2 {
		s.Dashboard.AddWidgets(rows[i:min(i+2, len(rows))]...)
	}
}
