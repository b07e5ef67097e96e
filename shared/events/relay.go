package events

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/berth-registry/berth/shared/store"
)

// Publisher sends events on: the EventBridge bus on AWS
// (shared/eventbus).
type Publisher interface {
	// Publish sends evs in order and returns how many of the first it
	// sent; an error says why the rest were not.
	Publish(ctx context.Context, evs []Event) (int, error)
}

// maxBatch is the most events one Publish call is given (EventBridge's
// PutEvents takes ten entries).
const maxBatch = 10

// Relay finishes committed events (Finish) and publishes them in order,
// up to maxBatch events a call. It returns "" when all were published,
// else the Seq of the first committed entry not wholly published and
// why: the caller retries from there (a stream's batch item failure),
// so an entry may be published twice, under the same event ids. An
// entry that cannot be read is logged whole and skipped: retrying would
// never read it, and would hold back every event behind it.
func Relay(ctx context.Context, p Publisher, cs []store.Committed, log *slog.Logger) (string, error) {
	var batch []Event
	var ends []int // ends[i]: len(batch) once entry seqs[i] is in it
	var seqs []string
	flush := func() (string, error) {
		if len(batch) == 0 {
			return "", nil
		}
		n, err := p.Publish(ctx, batch)
		if err == nil && n < len(batch) {
			err = fmt.Errorf("published %d of %d events", n, len(batch))
		}
		if err != nil {
			for i, end := range ends {
				if end > n {
					return seqs[i], err
				}
			}
		}
		batch, ends, seqs = batch[:0], ends[:0], seqs[:0]
		return "", nil
	}
	for _, c := range cs {
		evs, err := Finish(c)
		if err != nil {
			log.ErrorContext(ctx, "dropping an unreadable committed event", "seq", c.Seq, "events", string(c.Events), "error", err.Error())
			continue
		}
		if len(batch)+len(evs) > maxBatch {
			if seq, err := flush(); err != nil {
				return seq, err
			}
		}
		batch = append(batch, evs...)
		ends = append(ends, len(batch))
		seqs = append(seqs, c.Seq)
	}
	return flush()
}
