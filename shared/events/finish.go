package events

import (
	"encoding/json"
	"fmt"

	"github.com/berth-registry/berth/shared/store"
)

// Finish turns what a committed write carried into the events to
// publish. A writer composes an event before it writes, so what depends
// on the record it replaced is settled here, from c.Previous, exactly
// as committed:
//   - tag.moved gets the tag's previous digest, and is dropped when the
//     tag is new or pointed at the same manifest already;
//   - tag.deleted gets the digest the deleted tag pointed at;
//   - repository.created is dropped when the write replaced a
//     repository (two creates raced; the first one published);
//   - repository.visibility_changed is dropped unless "public" changed;
//   - policy.changed and retention_policy.changed say "created" or
//     "updated" by whether a policy was there.
func Finish(c store.Committed) ([]Event, error) {
	var evs []Event
	if err := json.Unmarshal(c.Events, &evs); err != nil {
		return nil, fmt.Errorf("committed event %s: %w", c.Seq, err)
	}
	out := evs[:0]
	for _, ev := range evs {
		keep, err := finish(&ev, c.Previous)
		if err != nil {
			return nil, fmt.Errorf("committed event %s (%s %s): %w", c.Seq, ev.Type, ev.ID, err)
		}
		if keep {
			out = append(out, ev)
		}
	}
	return out, nil
}

func finish(ev *Event, prev []byte) (bool, error) {
	switch ev.Type {
	case TagMoved:
		var d TagMovedData
		var old store.Tag
		if err := decodeBoth(ev.Data, &d, prev, &old); err != nil || prev == nil || old.Digest == d.Digest {
			return false, err
		}
		d.PreviousDigest = old.Digest
		return true, ev.set(d)
	case TagDeleted:
		var d TagDeletedData
		var old store.Tag
		if err := decodeBoth(ev.Data, &d, prev, &old); err != nil {
			return false, err
		}
		if old.Digest != "" {
			d.Digest = old.Digest
		}
		return true, ev.set(d)
	case RepositoryCreated:
		return prev == nil, nil
	case RepositoryVisibilityChange:
		var d RepositoryData
		var old store.Repository
		if err := decodeBoth(ev.Data, &d, prev, &old); err != nil || prev == nil {
			return false, err
		}
		return old.Public != d.Public, nil
	case PolicyChanged:
		var d PolicyData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return false, err
		}
		d.Change = createdOrUpdated(d.Change, prev)
		return true, ev.set(d)
	case RetentionPolicyChanged:
		var d RetentionPolicyData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return false, err
		}
		d.Change = createdOrUpdated(d.Change, prev)
		return true, ev.set(d)
	}
	return true, nil
}

// createdOrUpdated settles a put's change ("") by whether it replaced a
// record.
func createdOrUpdated(change string, prev []byte) string {
	switch {
	case change != "":
		return change
	case prev == nil:
		return Created
	}
	return Updated
}

// decodeBoth decodes an event's data, and the previous record when
// there is one.
func decodeBoth(data json.RawMessage, d any, prev []byte, old any) error {
	if err := json.Unmarshal(data, d); err != nil {
		return err
	}
	if prev == nil {
		return nil
	}
	return json.Unmarshal(prev, old)
}

func (ev *Event) set(d any) error {
	raw, err := json.Marshal(d)
	ev.Data = raw
	return err
}
