package dynamo_test

import (
	"testing"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/dynamo"
	"github.com/berth-registry/berth/shared/store/dynamo/streamtest"
	"github.com/berth-registry/berth/shared/store/storetest"
)

// TestEventsContract runs the events contract suite on the stream
// records the writes make (streamtest, as dynalite has no streams),
// read by CommittedEvent as functions/events reads the real stream.
func TestEventsContract(t *testing.T) {
	tbl, base := open(t)
	client, rec := streamtest.Client(base, tbl.Name())
	s := dynamo.New(client, tbl.Name())
	storetest.Events(t, s, func(t *testing.T) []store.Committed {
		var out []store.Committed
		for _, r := range rec.Take() {
			if c, ok := dynamo.CommittedEvent(dynamo.ChangeOf(r)); ok {
				out = append(out, c)
			}
		}
		return out
	})
}
