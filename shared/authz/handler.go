package authz

import (
	"context"
	"net/url"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/route"
)

// LambdaFunc is an HTTP API REQUEST authorizer (payload 2.0, simple
// responses).
type LambdaFunc func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)

// Lambda returns the authorizer function's handler. It always authorizes
// at the gateway and carries its decision in the context (see the
// package doc); an error (storage unreachable) makes API Gateway answer
// 500, which is right: nothing was decided.
func (a *Authorizer) Lambda() LambdaFunc {
	return func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
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
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: d.Context()}, nil
	}
}
