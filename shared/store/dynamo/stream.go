package dynamo

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/store"
)

// Change is one record of the table's change stream (NEW_AND_OLD_IMAGES),
// as far as events need it: the string and number attributes of the
// images, numbers as their text. functions/events builds it from the
// Lambda event.
type Change struct {
	// EventName is INSERT, MODIFY or REMOVE.
	EventName string
	// Seq is the record's sequence number.
	Seq string
	// Old and New are the item before and after (nil when absent).
	Old, New map[string]string
}

// CommittedEvent returns the event a change publishes (events.go): a
// REMOVE the OLD image's "evtrm", an INSERT or MODIFY the NEW image's
// "evt" when the OLD image did not hold the same one. Previous is the
// record before the change, unless it was split over overflow items (a
// large manifest, whose previous record no event needs).
func CommittedEvent(c Change) (store.Committed, bool) {
	var ev string
	switch c.EventName {
	case "REMOVE":
		ev = c.Old[attrEventRemove]
	case "INSERT", "MODIFY":
		if ev = c.New[attrEvent]; ev == c.Old[attrEvent] {
			ev = ""
		}
	}
	if ev == "" {
		return store.Committed{}, false
	}
	out := store.Committed{Seq: c.Seq, Events: []byte(ev)}
	if prev, ok := c.Old[attrValue]; ok && c.Old[attrChunks] == "" {
		out.Previous = []byte(prev)
	}
	return out, true
}

// ChangeOf reads a record of the stream as Lambda delivers it.
func ChangeOf(rec events.DynamoDBEventRecord) Change {
	return Change{EventName: rec.EventName, Seq: rec.Change.SequenceNumber,
		Old: textAttributes(rec.Change.OldImage), New: textAttributes(rec.Change.NewImage)}
}

// textAttributes keeps an image's string and number attributes, numbers as
// their text.
func textAttributes(img map[string]events.DynamoDBAttributeValue) map[string]string {
	if img == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range img {
		switch v.DataType() {
		case events.DataTypeString:
			out[k] = v.String()
		case events.DataTypeNumber:
			out[k] = v.Number()
		}
	}
	return out
}
