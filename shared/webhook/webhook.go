// Package webhook delivers Berth's events to one HTTP endpoint when the
// registry runs locally (`make run` with BERTH_WEBHOOK_URL): it drains
// the embedded store's outbox, in order, posting each event with an
// HMAC signature (sign.go) and retrying with backoff until the endpoint
// answers 2xx. On AWS nothing here runs: EventBridge API destinations
// deliver from the bus (docs/events.md).
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// Sender posts committed events to URL.
type Sender struct {
	outbox store.Outbox
	url    string
	secret []byte
	client *http.Client
	log    *slog.Logger
	// Poll is how often an empty outbox is looked at again, and
	// MinBackoff and MaxBackoff bound the wait between attempts at an
	// event the endpoint refused.
	Poll, MinBackoff, MaxBackoff time.Duration
}

// New returns a Sender from outbox to url, signing with secret.
func New(outbox store.Outbox, url string, secret []byte, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.Default()
	}
	return &Sender{
		outbox: outbox, url: url, secret: secret, log: log,
		client: &http.Client{
			Timeout: 10 * time.Second,
			// A redirect is not a delivery: the endpoint is the
			// operator's, and must answer itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Poll: 200 * time.Millisecond, MinBackoff: 500 * time.Millisecond, MaxBackoff: time.Minute,
	}
}

// Run delivers until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	wait := s.MinBackoff
	for {
		n, err := s.Drain(ctx)
		pause := s.Poll
		if err != nil {
			s.log.WarnContext(ctx, "webhook delivery failed; will retry", "url", s.url, "retry_in", wait.String(), "error", err.Error())
			pause, wait = wait, min(2*wait, s.MaxBackoff)
		} else if n > 0 {
			wait = s.MinBackoff
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// Drain delivers what the outbox holds, oldest first, until it is
// empty or a delivery fails, and returns how many events it delivered.
// An entry is acknowledged once all its events were delivered; after a
// failure it is tried again whole, so an endpoint may receive an event
// twice (its id is the same: de-duplicate by it).
func (s *Sender) Drain(ctx context.Context) (int, error) {
	n := 0
	for {
		batch, err := s.outbox.PendingEvents(ctx, 100)
		if err != nil || len(batch) == 0 {
			return n, err
		}
		for _, c := range batch {
			evs, err := events.Finish(c)
			if err != nil {
				// A record that cannot be read never will be: log it
				// whole rather than block every later event behind it.
				s.log.ErrorContext(ctx, "dropping an unreadable committed event", "seq", c.Seq, "events", string(c.Events), "error", err.Error())
			}
			for _, ev := range evs {
				if err := s.post(ctx, ev); err != nil {
					return n, fmt.Errorf("event %s (%s): %w", ev.ID, ev.Type, err)
				}
				n++
			}
			if err := s.outbox.AckEvent(ctx, c.Seq); err != nil {
				return n, err
			}
		}
	}
}

// post sends one event.
func (s *Sender) post(ctx context.Context, ev events.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "berth-webhook/"+events.Version)
	req.Header.Set("Berth-Event-Id", ev.ID)
	req.Header.Set("Berth-Event-Type", ev.Type)
	req.Header.Set(SignatureHeader, Sign(s.secret, time.Now(), body))
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", s.url, res.Status)
	}
	return nil
}
