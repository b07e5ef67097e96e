// Package authz is Berth's policy decision point (the authorizer) and
// policy enforcement point (the middleware every function runs). The
// authorizer authenticates a request (Basic auth token or Bearer registry
// token), evaluates policy for the route's repository and action, and
// hands its Decision to the function in API Gateway's authorizer context;
// the middleware turns a negative decision into the spec's 401 (with the
// Docker token-auth challenge) or 403.
//
// The authorizer always "allows" at the gateway, carrying its verdict in
// the context: an HTTP API cannot add WWW-Authenticate to its own 401,
// and containerd needs that challenge on its first, anonymous request
// (docs/architecture.md §4).
package authz

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/events"
)

// Decision is the authorizer's verdict on one request.
type Decision struct {
	// Allow says the request may proceed.
	Allow bool
	// Status is 401 (credentials missing or invalid, or a token without
	// the needed scope), 403 (authenticated but not permitted) or 503
	// (storage failed while deciding).
	Status int
	// Principal is who made the request (anonymous when empty).
	Principal auth.Principal
	// Via is how the principal authenticated: basic, bearer or none.
	Via string
	// Scope is the Docker token scope the request needs, for the
	// challenge (e.g. "repository:dev/app:pull,push").
	Scope string
	// Message explains a negative decision to the client.
	Message string
	// MountFrom says the principal may pull the repository named by a
	// blob mount's "from" parameter.
	MountFrom bool
}

// Context encodes a decision as an authorizer context (flat strings and
// booleans, which API Gateway passes through to the integration).
func (d Decision) Context() map[string]any {
	return map[string]any{
		"allow":     d.Allow,
		"status":    d.Status,
		"tenancy":   d.Principal.Tenancy,
		"user":      d.Principal.User,
		"groups":    strings.Join(d.Principal.Groups, ","),
		"via":       d.Via,
		"scope":     d.Scope,
		"message":   d.Message,
		"mountFrom": d.MountFrom,
	}
}

// FromContext decodes a decision from an authorizer context; ok is false
// when the context holds none.
func FromContext(c map[string]any) (d Decision, ok bool) {
	if c == nil {
		return d, false
	}
	allow, ok := c["allow"].(bool)
	if !ok {
		return d, false
	}
	d.Allow = allow
	switch s := c["status"].(type) {
	case float64:
		d.Status = int(s)
	case int:
		d.Status = s
	case string:
		d.Status, _ = strconv.Atoi(s)
	}
	str := func(k string) string { s, _ := c[k].(string); return s }
	d.Principal = auth.Principal{Tenancy: str("tenancy"), User: str("user")}
	if g := str("groups"); g != "" {
		d.Principal.Groups = strings.Split(g, ",")
	}
	d.Via, d.Scope, d.Message = str("via"), str("scope"), str("message")
	d.MountFrom, _ = c["mountFrom"].(bool)
	return d, true
}

type decisionKey struct{}

type authorizerKey struct{}

// WithAuthorizerContext returns ctx carrying the authorizer context that
// API Gateway passed with the request (requestContext.authorizer.lambda):
// the Lambda adapter, and the local gateway's tests, put it there.
func WithAuthorizerContext(ctx context.Context, c map[string]any) context.Context {
	return context.WithValue(ctx, authorizerKey{}, c)
}

// AuthorizerContext returns the authorizer context of the request in
// ctx, or nil.
func AuthorizerContext(ctx context.Context) map[string]any {
	m, _ := ctx.Value(authorizerKey{}).(map[string]any)
	return m
}

// WithDecision returns ctx carrying a decision for handlers to consult,
// and its principal as the actor of the events the request makes.
func WithDecision(ctx context.Context, d Decision) context.Context {
	a := events.Actor{Type: events.ActorAnonymous}
	if !d.Principal.Anonymous() {
		a = events.Actor{Type: events.ActorUser, Name: d.Principal.String(), Via: d.Via}
	}
	return events.WithActor(context.WithValue(ctx, decisionKey{}, d), a)
}

// DecisionFrom returns the decision enforced for the request in ctx.
func DecisionFrom(ctx context.Context) (Decision, bool) {
	d, ok := ctx.Value(decisionKey{}).(Decision)
	return d, ok
}

func deny(status int, scope, msg string) Decision {
	return Decision{Status: status, Scope: scope, Message: msg}
}

func unauthorized(scope, msg string) Decision { return deny(http.StatusUnauthorized, scope, msg) }

// Unavailable is the decision when deciding failed (storage, or the
// verification key's first read): the request is refused with 503 and
// may be retried.
func Unavailable() Decision {
	return deny(http.StatusServiceUnavailable, "", "the registry could not check access just now; try again")
}
