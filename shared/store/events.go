package store

import "context"

// Events that ride writes (docs/events.md "Delivery"). A caller that
// wants an event published for a change attaches it to the context of
// the one store call that makes the change (WithEvent); the store
// commits it in the same single-item write as the change, so it exists
// exactly when the change committed. A publisher reads it back later:
// on AWS from the table's change stream (the item's attribute "evt",
// or "evtrm" for a delete), locally from the embedded store's outbox.
//
// The methods that carry an event say so in their implementation's
// documentation; the contract suite (storetest.Events) checks each on
// every backend. A method given an event it does not carry ignores it.

// PendingEvent is what a caller hands a store call: the events' JSON,
// opaque to the store (shared/events encodes and finalizes it).
type PendingEvent []byte

type pendingKey struct{}

// WithEvent returns ctx carrying ev for the next store call made with
// it.
func WithEvent(ctx context.Context, ev PendingEvent) context.Context {
	return context.WithValue(ctx, pendingKey{}, ev)
}

// EventFrom returns the event ctx carries, or nil.
func EventFrom(ctx context.Context) PendingEvent {
	ev, _ := ctx.Value(pendingKey{}).(PendingEvent)
	return ev
}

// Committed is an event as a publisher receives it: what rode a
// committed write, and the record the write replaced or removed (its
// JSON, nil when there was none), from which the publisher finishes
// what the writer could not know before writing (a moved tag's previous
// digest).
type Committed struct {
	// Seq orders and names the entry in its queue.
	Seq string
	// Events is the PendingEvent the write carried.
	Events []byte
	// Previous is the record before the write, or nil.
	Previous []byte
}

// Outbox is the embedded store's queue of committed events, which the
// local webhook sender drains (shared/webhook). The table's change
// stream plays its part on AWS.
type Outbox interface {
	// PendingEvents returns up to limit committed events, oldest first.
	PendingEvents(ctx context.Context, limit int) ([]Committed, error)
	// AckEvent removes a delivered event; acknowledging one that is gone
	// is not an error.
	AckEvent(ctx context.Context, seq string) error
}

// The attributes an event rides in on a DynamoDB item (shared/store/
// dynamo): "evt" on a put or update, "evtrm" stamped before a delete.
const (
	EventAttribute       = "evt"
	RemoveEventAttribute = "evtrm"
)

// StreamFilters are the patterns (Lambda event filtering, OR-ed) of the
// records of the table's change stream that may carry an event: a NEW
// image with "evt", or a REMOVE whose OLD image has "evtrm". infra/
// installs them on the events function's event source, so the table's
// other writes (pull counts, touches, upload sessions) invoke nothing;
// dynamo.CommittedEvent decides on the records that pass.
var StreamFilters = []string{
	`{"dynamodb":{"NewImage":{"` + EventAttribute + `":{"S":[{"exists":true}]}}}}`,
	`{"eventName":["REMOVE"],"dynamodb":{"OldImage":{"` + RemoveEventAttribute + `":{"S":[{"exists":true}]}}}}`,
}
