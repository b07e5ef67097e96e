package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/store"
)

// count counts a repository job as finished, and finishes the run when
// it was the last one. Jobs run in parallel and may run again: the
// store counts each repository once, and finishes a run once
// (store.RunProgress).
func (s *Service) count(ctx context.Context, j Job) error {
	run, first, err := s.st.Ret.CountRunRepo(ctx, j.Tenancy, j.RunID, j.Repository)
	if err != nil {
		return fmt.Errorf("count the job of %s in run %s: %w", j.Repository, j.RunID, err)
	}
	if !first || run.Done < run.Repositories {
		return nil
	}
	return s.finish(ctx, run)
}

// finish adds up a run's outcomes and records it finished, carrying its
// retention_run.finished event. A run finished already is no error.
func (s *Service) finish(ctx context.Context, run store.RetentionRun) error {
	outs, err := s.st.Ret.ListRunRepos(ctx, run.Tenancy, run.ID)
	if err != nil {
		return err
	}
	sum := &store.RunSummary{}
	for _, o := range outs {
		sum.Images += o.Images
		sum.Deleted += o.Deleted
		sum.Reported += o.Reported
		sum.Restored += o.Restored
		sum.Purged += o.Purged
		if o.Stopped {
			sum.BreakerTrips++
		}
		if o.Error != "" {
			sum.Failed++
		}
	}
	run.Finished, run.Summary = s.Now(), sum
	ev := events.New(events.ByRun(ctx, run.ID), run.Finished, events.RetentionRunFinished, run.Tenancy, run.Repository, events.RunFinishedData{
		RunID: run.ID, Trigger: run.Trigger, DryRun: run.DryRun, Started: run.Started, Finished: run.Finished,
		Repositories: run.Repositories, RunSummary: *sum})
	err = s.st.Ret.FinishRun(events.With(ctx, ev), run)
	if errors.Is(err, store.ErrConflict) {
		return nil
	} else if err == nil {
		s.metrics.Count(metrics.RetentionRunsFinished, 1)
	}
	return err
}

// staleAfter is how long after its start a run whose jobs all reported
// may be finished by the next hourly run instead (a job that crashed
// between recording its outcome and counting it).
const staleAfter = 30 * time.Minute

// finishStale finishes a tenancy's recent runs whose every job recorded
// an outcome but which no job finished.
func (s *Service) finishStale(ctx context.Context, tenancy string) error {
	runs, err := s.st.Ret.ListRuns(ctx, tenancy, "", 24)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if !r.Finished.IsZero() || s.Now().Sub(r.Started) < staleAfter {
			continue
		}
		outs, err := s.st.Ret.ListRunRepos(ctx, tenancy, r.ID)
		if err != nil {
			return err
		}
		if len(outs) >= r.Repositories {
			if err := s.finish(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}
