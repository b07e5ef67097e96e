package retention

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/clock"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/textform"
)

// Stores is what retention reads and writes: content metadata, its own
// records (same table), blob objects, and the tenancy list.
type Stores struct {
	Meta      store.Metadata
	Ret       store.Retention
	Blobs     store.Objects
	Tenancies store.Tenancies
	// Usage, when set, keeps what each collection's mark pass counted
	// (docs/usage.md).
	Usage store.UsageStore
}

// Job is one repository's share of a run: the payload of the fan-out.
type Job struct {
	Tenancy    string `json:"tenancy"`
	Repository string `json:"repository"`
	RunID      string `json:"runId"`
}

// Dispatcher starts a run's repository jobs elsewhere (on AWS: one
// asynchronous invocation of the retention function per job).
type Dispatcher interface {
	// Dispatch hands the jobs over; they run after it returns.
	Dispatch(ctx context.Context, jobs []Job) error
}

// Service applies retention policies and collects garbage.
type Service struct {
	st  Stores
	cfg Config
	log *slog.Logger
	// Now is the service's clock.
	Now func() time.Time
	// Dispatch runs a run's repository jobs; when nil they run one
	// after another before StartRun returns (locally, and in tests).
	Dispatch Dispatcher
	metrics  Metrics
}

// Metrics hears what runs and collections did: deletions, breaker
// trips, runs finished, bytes freed and stored (shared/metrics writes
// them as EMF lines; docs/metrics.md).
type Metrics interface {
	// Count records v of the named metric with its dimension values.
	Count(name string, v float64, dims ...string)
}

// Option configures a Service.
type Option func(*Service)

// WithMetrics reports to m.
func WithMetrics(m Metrics) Option { return func(s *Service) { s.metrics = m } }

// New returns a Service over the stores.
func New(st Stores, cfg Config, log *slog.Logger, opts ...Option) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{st: st, cfg: cfg, log: log, Now: func() time.Time { return time.Now().UTC() }, metrics: noMetrics{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

type noMetrics struct{}

func (noMetrics) Count(string, float64, ...string) {}

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// ErrAsOf refuses a run "as of" another time when the test clock is off.
var ErrAsOf = errors.New("asOf is only accepted when the server runs with BERTH_TEST_CLOCK=1")

// RunRequest asks for a run.
type RunRequest struct {
	Tenancy    string
	Repository string // "" for every repository of the tenancy
	DryRun     bool
	Confirm    bool
	AsOf       time.Time // zero: now
	Trigger    string
	By         string
}

// StartRun records a run and starts its repository jobs. Without a
// Dispatcher the jobs have run when it returns.
func (s *Service) StartRun(ctx context.Context, req RunRequest) (store.RetentionRun, error) {
	started := s.Now()
	run := store.RetentionRun{Tenancy: req.Tenancy, ID: newRunID(started), Started: started, AsOf: started,
		DryRun: req.DryRun, Confirm: req.Confirm, Repository: req.Repository, Trigger: req.Trigger, By: req.By}
	if !req.AsOf.IsZero() {
		if !s.cfg.TestClock {
			return run, ErrAsOf
		}
		run.AsOf = req.AsOf.UTC()
	}
	repos := []string{req.Repository}
	if req.Repository == "" {
		var err error
		if repos, err = s.repositories(ctx, req.Tenancy); err != nil {
			return run, err
		}
	}
	run.Repositories = len(repos)
	if err := s.st.Ret.CreateRun(ctx, run); err != nil {
		return run, fmt.Errorf("record run: %w", err)
	}
	if len(repos) == 0 {
		return run, s.finish(ctx, run) // no job will
	}
	jobs := make([]Job, 0, len(repos))
	for _, r := range repos {
		jobs = append(jobs, Job{Tenancy: req.Tenancy, Repository: r, RunID: run.ID})
	}
	if s.Dispatch != nil {
		return run, s.Dispatch.Dispatch(ctx, jobs)
	}
	for _, j := range jobs {
		if _, err := s.RunRepository(ctx, j); err != nil {
			s.log.ErrorContext(ctx, "retention job failed", "repository", j.Repository, "run", j.RunID, "error", err.Error())
		}
	}
	return run, nil
}

// repositories lists a tenancy's repositories.
func (s *Service) repositories(ctx context.Context, tenancy string) ([]string, error) {
	var out []string
	prefix := tenancy + "/"
	after := prefix
	for {
		names, err := s.st.Meta.ListRepositories(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if !strings.HasPrefix(n, prefix) {
				return out, nil
			}
			out = append(out, n)
		}
		if len(names) < 1000 {
			return out, nil
		}
		after = names[len(names)-1]
	}
}

// PolicyFor returns the policy that governs a repository: its override,
// else the tenancy's global policy, else retain-everything.
func (s *Service) PolicyFor(ctx context.Context, tenancy, repo string) (store.RetentionPolicy, error) {
	if a, err := s.st.Ret.GetAssignment(ctx, tenancy, repo); err == nil {
		p, err := s.st.Ret.GetRetentionPolicy(ctx, tenancy, a.Policy)
		if err == nil {
			return p, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return p, err
		}
		s.log.WarnContext(ctx, "repository assigned to a missing retention policy; the global one applies", "repository", repo, "policy", a.Policy)
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.RetentionPolicy{}, err
	}
	p, err := s.st.Ret.GetRetentionPolicy(ctx, tenancy, store.GlobalPolicy)
	if errors.Is(err, store.ErrNotFound) {
		return store.RetentionPolicy{Tenancy: tenancy, Name: store.GlobalPolicy}, nil
	}
	return p, err
}

// RunRepository runs one repository's job: purge its expired bin
// entries, evaluate its policy, record the decisions and marks, and (in
// a real run) move the images to delete to the bin. It records the
// outcome whatever happens; a retried job redoes only what is left.
func (s *Service) RunRepository(ctx context.Context, j Job) (out store.RunRepo, err error) {
	out = store.RunRepo{Tenancy: j.Tenancy, RunID: j.RunID, Repo: j.Repository}
	defer func() {
		if err != nil {
			out.Error = "the job failed; see the retention function's log"
		}
		out.Finished = s.Now()
		if perr := s.st.Ret.PutRunRepo(ctx, out); perr != nil && err == nil {
			err = perr
		} else if perr == nil {
			if ferr := s.count(ctx, j); ferr != nil && err == nil {
				err = ferr
			}
		}
	}()
	run, err := s.st.Ret.GetRun(ctx, j.Tenancy, j.RunID)
	if err != nil {
		return out, fmt.Errorf("run %s: %w", j.RunID, err)
	}
	p, err := s.PolicyFor(ctx, j.Tenancy, j.Repository)
	if err != nil {
		return out, err
	}
	out.Policy = p.Name
	if !run.DryRun {
		if out.Purged, err = s.purge(ctx, j.Repository, run.AsOf); err != nil {
			return out, err
		}
	}
	if p.NotPulledDays <= 0 && p.UntaggedDays <= 0 {
		out.Note = "the policy retains everything"
		return out, s.clearNotices(ctx, j.Repository)
	}
	data, err := s.load(ctx, j.Repository)
	if err != nil {
		return out, err
	}
	pins, err := s.st.Ret.ListPins(ctx, j.Repository)
	if err != nil {
		return out, err
	}
	plan := Evaluate(Input{Policy: p, Images: data.images, Pins: pins, Now: run.AsOf, Config: s.cfg, Confirm: run.Confirm, DryRun: run.DryRun})
	out.Images, out.Deleted, out.Reported, out.Stopped, out.Note = len(data.images), len(plan.Delete), len(plan.Report), plan.Stopped, plan.Note
	if plan.Stopped && !run.DryRun {
		s.metrics.Count(metrics.RetentionBreakerTrips, 1) // one series: what the alarm watches
	}
	for i := 0; i < len(plan.Marks); i += 100 {
		if err := s.st.Ret.MarkImages(ctx, j.Repository, plan.Marks[i:min(i+100, len(plan.Marks))]); err != nil {
			return out, err
		}
	}
	var ds []store.Decision
	for _, vs := range [][]Verdict{plan.Delete, plan.Report, plan.Keep} {
		for _, v := range vs {
			ds = append(ds, decision(run, j.Repository, p.Name, v))
		}
	}
	if err := s.putDecisions(ctx, ds); err != nil {
		return out, err
	}
	if run.DryRun || len(plan.Delete) == 0 {
		return out, nil
	}
	restored, err := s.apply(events.ByRun(ctx, run.ID), run, p.Name, data, plan.Delete)
	out.Deleted -= restored
	out.Restored = restored
	s.metrics.Count(metrics.RetentionDeletions, float64(out.Deleted), j.Tenancy)
	return out, err
}

func decision(run store.RetentionRun, repo, policy string, v Verdict) store.Decision {
	return store.Decision{Tenancy: run.Tenancy, RunID: run.ID, Repo: repo, Digest: v.Digest, MediaType: v.MediaType,
		Tags: v.Tags, Policy: policy, Action: v.Action, Criterion: v.Criterion, Reason: v.Reason, Time: run.AsOf}
}

func (s *Service) putDecisions(ctx context.Context, ds []store.Decision) error {
	for i := 0; i < len(ds); i += 100 {
		if err := s.st.Ret.PutDecisions(ctx, ds[i:min(i+100, len(ds))]); err != nil {
			return fmt.Errorf("record decisions: %w", err)
		}
	}
	return nil
}

// repoData is a repository's content as loaded for one evaluation.
type repoData struct {
	repo   string
	images []Image
	tags   map[digest.Digest][]store.Tag
}

const page = 1000

// load reads a repository's manifests, tags and statistics.
func (s *Service) load(ctx context.Context, repo string) (repoData, error) {
	data := repoData{repo: repo, tags: map[digest.Digest][]store.Tag{}}
	for after := ""; ; {
		ts, err := s.st.Meta.ListTags(ctx, repo, after, page)
		if err != nil {
			return data, err
		}
		for _, t := range ts {
			data.tags[t.Digest] = append(data.tags[t.Digest], t)
		}
		if len(ts) < page {
			break
		}
		after = ts[len(ts)-1].Name
	}
	stats := map[digest.Digest]store.ImageStats{}
	for after := digest.Digest(""); ; {
		ss, err := s.st.Ret.ListImageStats(ctx, repo, after, page)
		if err != nil {
			return data, err
		}
		for _, st := range ss {
			stats[st.Digest] = st
		}
		if len(ss) < page {
			break
		}
		after = ss[len(ss)-1].Digest
	}
	for after := digest.Digest(""); ; {
		ms, err := s.st.Meta.ListManifests(ctx, repo, after, page)
		if err != nil {
			return data, err
		}
		for _, m := range ms {
			var names []string
			for _, t := range data.tags[m.Digest] {
				names = append(names, t.Name)
			}
			// Bodies are not needed to decide; drop them to keep a large
			// repository's evaluation small.
			m.Body = nil
			data.images = append(data.images, Image{Manifest: m, Tags: names, Stats: stats[m.Digest]})
		}
		if len(ms) < page {
			break
		}
		after = ms[len(ms)-1].Digest
	}
	return data, nil
}

// clearNotices drops the notices of a repository whose policy no longer
// deletes anything.
func (s *Service) clearNotices(ctx context.Context, repo string) error {
	var marks []store.ImageMark
	for after := digest.Digest(""); ; {
		ss, err := s.st.Ret.ListImageStats(ctx, repo, after, page)
		if err != nil {
			return err
		}
		for _, st := range ss {
			if st.Notice != nil {
				mk := st.ImageMarks
				mk.Notice = nil
				marks = append(marks, store.ImageMark{Digest: st.Digest, ImageMarks: mk})
			}
		}
		if len(ss) < page {
			break
		}
		after = ss[len(ss)-1].Digest
	}
	if len(marks) == 0 {
		return nil
	}
	return s.st.Ret.MarkImages(ctx, repo, marks)
}

// newRunID is sortable by start time and unique.
// runIDForm is the form of the ids newRunID makes (textform.Layout).
const runIDForm = "ddddddddTdddddd.dddZ-xxxxxx"

// validRunID reports whether id is a run id as newRunID makes them.
func validRunID(id string) bool { return textform.Layout(id, runIDForm) }

func newRunID(t time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return t.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b)
}

// Open returns a Service over the stores, configured from the
// environment (ConfigFromEnv: the BERTH_RETENTION_* and BERTH_GC_GRACE
// settings) and reading the process's one clock. Every function that
// serves retention builds it so, whether it runs jobs (shared/app's
// retentionfn) or only reads and previews (the console).
func Open(st Stores, getenv func(string) string, clk *clock.Clock, log *slog.Logger, opts ...Option) (*Service, error) {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	cfg.TestClock = clk.Test()
	s := New(st, cfg, log, opts...)
	s.Now = clk.Now
	return s, nil
}
