package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// Result is what one pass did: the hourly pass (Hourly), a repository
// job, or a collection.
type Result struct {
	// Runs are the runs a scheduled event started.
	Runs []store.RetentionRun `json:"runs,omitempty"`
	// Job is a repository job's outcome.
	Job *store.RunRepo `json:"job,omitempty"`
	// Collection is the garbage collection's outcome.
	Collection *Collection `json:"collection,omitempty"`
}

// Hourly starts a run in every tenancy (its jobs fan out through the
// Dispatcher, or run here without one), then collects garbage. The
// collection does not wait for the jobs: what they delete goes to the
// recycle bin, whose blobs a later collection takes.
func (s *Service) Hourly(ctx context.Context) (Result, error) {
	var res Result
	ts, err := s.st.Tenancies.ListTenancies(ctx)
	if err != nil {
		return res, err
	}
	var errs []error
	for _, t := range ts {
		if err := s.finishStale(ctx, t.Name); err != nil {
			errs = append(errs, fmt.Errorf("tenancy %s: finishing earlier runs: %w", t.Name, err))
		}
		run, err := s.StartRun(ctx, RunRequest{Tenancy: t.Name, Trigger: "schedule"})
		if err != nil {
			errs = append(errs, fmt.Errorf("tenancy %s: %w", t.Name, err))
			continue
		}
		res.Runs = append(res.Runs, run)
	}
	c, err := s.Collect(ctx, s.Now())
	if err != nil {
		errs = append(errs, fmt.Errorf("garbage collection: %w", err))
	} else {
		res.Collection = &c
	}
	return res, errors.Join(errs...)
}

// Schedule runs Hourly every interval until ctx ends: what `berth serve`
// does in place of EventBridge. Failures are logged.
func (s *Service) Schedule(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := s.Hourly(ctx); err != nil {
				s.log.ErrorContext(ctx, "scheduled retention failed", "error", err.Error())
			}
		}
	}
}
