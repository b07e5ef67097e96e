// Package events is Berth's one event schema (docs/events.md): what
// happened (a push, a tag moved, an image deleted or restored, a
// repository or policy changed, a retention run finished, logins
// refused in bulk), to what, by whom, in which request.
//
// An event rides the write that makes its change (store.WithEvent): the
// store commits it in the same single-item write, so it exists exactly
// when the change committed, and a publisher delivers it afterwards —
// the table's change stream and functions/events on AWS, the embedded
// store's outbox and shared/webhook locally. Both hand what they read to
// Finish, which completes what the writer could not know before writing
// (a moved tag's previous digest) from the record the write replaced.
package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/berth-registry/berth/shared/reqinfo"
	"github.com/berth-registry/berth/shared/store"
)

// Version is the schema's version. A change that removes or renames a
// field, or changes one's meaning, makes a new version; new fields and
// new types do not.
const Version = "1"

// Source is the EventBridge source Berth's events carry.
const Source = "berth"

// Event types (docs/events.md has an example of each).
const (
	ManifestPushed             = "manifest.pushed"
	TagMoved                   = "tag.moved"
	TagDeleted                 = "tag.deleted"
	ImageDeleted               = "image.deleted"
	ImageRestored              = "image.restored"
	RepositoryCreated          = "repository.created"
	RepositoryDeleted          = "repository.deleted"
	RepositoryVisibilityChange = "repository.visibility_changed"
	PolicyChanged              = "policy.changed"
	RetentionPolicyChanged     = "retention_policy.changed"
	RetentionRunFinished       = "retention_run.finished"
	LoginsRefused              = "login.refused_bulk"
)

// Types lists every event type.
var Types = []string{ManifestPushed, TagMoved, TagDeleted, ImageDeleted, ImageRestored,
	RepositoryCreated, RepositoryDeleted, RepositoryVisibilityChange, PolicyChanged,
	RetentionPolicyChanged, RetentionRunFinished, LoginsRefused}

// Event is one event: the envelope every type shares, and Data, whose
// shape the type names (the *Data types below).
type Event struct {
	Version string    `json:"version"`
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Time    time.Time `json:"time"`
	Tenancy string    `json:"tenancy"`
	// Repository is the repository the event is about, if any.
	Repository string `json:"repository,omitempty"`
	Actor      Actor  `json:"actor"`
	// RequestID is API Gateway's id of the request that made the
	// change (the one in the client's answer and the logs); absent for
	// changes a retention run made on its own.
	RequestID string          `json:"requestId,omitempty"`
	Data      json.RawMessage `json:"data"`
}

// Actor types.
const (
	ActorUser      = "user"
	ActorAnonymous = "anonymous"
	ActorRetention = "retention"
	ActorSystem    = "system"
)

// Actor is who made a change: a user ("<tenancy>/<user>", with how they
// authenticated), or a retention run (its id).
type Actor struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	// Via is how a user authenticated: basic (an auth token) or bearer
	// (a registry token).
	Via   string `json:"via,omitempty"`
	RunID string `json:"runId,omitempty"`
}

type (
	runKey   struct{}
	actorKey struct{}
)

// ByRun returns ctx whose changes a retention run makes: events from
// it name the run as their actor.
func ByRun(ctx context.Context, runID string) context.Context {
	return context.WithValue(ctx, runKey{}, runID)
}

// WithActor returns ctx whose changes a makes (authz.WithDecision sets
// the principal of the enforced decision).
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// WithRequestID returns ctx serving the request with API Gateway's id
// id. The Lambda adapters (shared/lambdahttp) set it for every request,
// as the request's reqinfo, which error bodies and log lines read too.
func WithRequestID(ctx context.Context, id string) context.Context {
	return reqinfo.With(ctx, &reqinfo.Info{ID: id})
}

// ActorOf is who acts in ctx: the retention run ByRun named, else the
// actor WithActor set, else the system.
func ActorOf(ctx context.Context) Actor {
	if id, _ := ctx.Value(runKey{}).(string); id != "" {
		return Actor{Type: ActorRetention, RunID: id}
	}
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Type: ActorSystem}
}

// RequestIDOf is the id of the request ctx serves (reqinfo), or "".
func RequestIDOf(ctx context.Context) string { return reqinfo.ID(ctx) }

// New makes an event of type typ in ctx (its actor and request id) at
// time now.
func New(ctx context.Context, now time.Time, typ, tenancy, repo string, data any) Event {
	raw, _ := json.Marshal(data) // the *Data types always marshal
	return Event{Version: Version, ID: newID(now), Type: typ, Time: now.UTC(), Tenancy: tenancy,
		Repository: repo, Actor: ActorOf(ctx), RequestID: RequestIDOf(ctx), Data: raw}
}

// newID is time-ordered and unique: consumers de-duplicate by it (a
// publisher delivers at least once).
func newID(now time.Time) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b)
}

// With returns ctx carrying evs for the store call that commits their
// change (store.WithEvent).
func With(ctx context.Context, evs ...Event) context.Context {
	if len(evs) == 0 {
		return ctx
	}
	raw, _ := json.Marshal(evs)
	return store.WithEvent(ctx, raw)
}
