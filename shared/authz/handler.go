package authz

import (
	"context"
	"log/slog"
	"net/url"

	"github.com/aws/aws-lambda-go/events"

	berthevents "github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/route"
)

// LambdaFunc is an HTTP API REQUEST authorizer (payload 2.0, simple
// responses).
type LambdaFunc func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)

// Lambda returns the authorizer function's handler. It always authorizes
// at the gateway and carries its decision in the context (see the
// package doc). When storage fails while deciding, it logs the error
// once (with API Gateway's request id) and carries a 503 decision: the
// function answers 503 UNAVAILABLE, where an authorizer error would make
// API Gateway answer a bare 500 that anyone could provoke. Nothing is
// allowed that was not decided.
func (a *Authorizer) Lambda(log *slog.Logger) LambdaFunc {
	return func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		ctx = berthevents.WithRequestID(ctx, ev.RequestContext.RequestID) // login.refused_bulk's
		ctx = WithHost(ctx, ev.Headers["host"])                           // an AWS IAM login's audience
		method := ev.RequestContext.HTTP.Method
		m, ok := route.FromEvent(ev.RouteKey, ev.PathParameters, method, ev.RawPath)
		if !ok {
			// A route key the table does not know (a $default route added
			// by hand?): decide on the route the path names, as the
			// function will.
			m, _ = route.Find(method, ev.RawPath)
		}
		q, _ := url.ParseQuery(ev.RawQueryString)
		d, err := a.Decide(ctx, Request{
			Method: method, Path: ev.RawPath, Query: q,
			Authorization: ev.Headers["authorization"], Match: m,
		})
		if err != nil {
			log.ErrorContext(ctx, "authorizer could not decide", "request_id", ev.RequestContext.RequestID,
				"route", ev.RouteKey, "error", err.Error())
			d = unavailable()
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: d.Context()}, nil
	}
}
