package app

import (
	"context"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/metrics"
)

// Metrics is the emitter a Lambda function logs its metrics with: EMF
// lines on standard output (Lambda sends them to the function's log
// group, where CloudWatch extracts them), in cfg.MetricsNamespace
// (docs/metrics.md).
func Metrics(cfg config.Config) *metrics.Emitter {
	return metrics.New(os.Stdout, cfg.MetricsNamespace)
}

// countDenials wraps an authorizer to count its negative decisions
// (AuthorizerDenials, by the status the function will answer).
func countDenials(em *metrics.Emitter, f authz.LambdaFunc) authz.LambdaFunc {
	if em == nil {
		return f
	}
	return func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		res, err := f(ctx, ev)
		if d, ok := authz.FromContext(res.Context); err == nil && ok && !d.Allow {
			em.Count(metrics.AuthorizerDenials, 1, strconv.Itoa(d.Status))
		}
		return res, err
	}
}
