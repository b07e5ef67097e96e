package lambdahttp

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/reqinfo"
	"github.com/berth-registry/berth/shared/route"
)

// AuthorizerFunc is an HTTP API REQUEST authorizer (payload 2.0, simple
// responses).
type AuthorizerFunc func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)

// Decider decides a request (authz.Authorizer does).
type Decider interface {
	Decide(ctx context.Context, r authz.Request) (authz.Decision, error)
}

// Authorizer returns the authorizer function's handler over d. It always
// authorizes at the gateway and carries the decision in the context
// (shared/authz's package doc). When d fails (storage, or the signing
// key's first read), it logs the error once, with the request id, and
// carries a 503 decision: the function answers 503 UNAVAILABLE, where an
// authorizer error would make API Gateway answer a bare 500 that anyone
// could provoke. Nothing is allowed that was not decided. Each request
// is logged in one line.
func Authorizer(d Decider, log *slog.Logger) AuthorizerFunc {
	return func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		start := time.Now()
		info := &reqinfo.Info{ID: ev.RequestContext.RequestID}
		rctx := reqinfo.With(ctx, info)
		method := ev.RequestContext.HTTP.Method
		m, ok := route.FromEvent(ev.RouteKey, ev.PathParameters, method, ev.RawPath)
		if !ok {
			// A route key the table does not know (a $default route added
			// by hand?): decide on the route the path names, as the
			// function will.
			m, _ = route.Find(method, ev.RawPath)
		}
		q, _ := url.ParseQuery(ev.RawQueryString)
		dec, err := d.Decide(rctx, authz.Request{
			Method: method, Path: ev.RawPath, Query: q,
			Authorization: ev.Headers["authorization"], Host: ev.Headers["host"], Match: m,
		})
		if err != nil {
			log.ErrorContext(ctx, "authorizer could not decide", "request_id", info.ID,
				"route", ev.RouteKey, "error", err.Error())
			dec = authz.Unavailable()
		}
		if log.Enabled(ctx, slog.LevelInfo) {
			principal := ""
			if !dec.Principal.Anonymous() {
				principal = dec.Principal.String()
			}
			attrs := []slog.Attr{
				slog.String("request_id", info.ID),
				slog.String("route", ev.RouteKey),
				slog.String("method", method),
				slog.String("path", ev.RawPath),
				slog.String("function", route.Authorizer),
				slog.String("repository", m.Name()),
				slog.String("principal", principal),
				slog.Bool("allow", dec.Allow),
				slog.Int("status", dec.Status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			}
			if lc, ok := lambdacontext.FromContext(ctx); ok {
				attrs = append(attrs, slog.String("lambda_request_id", lc.AwsRequestID))
			}
			log.LogAttrs(ctx, slog.LevelInfo, "authorize", attrs...)
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: dec.Context()}, nil
	}
}
