package store

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"
)

// GlobalPolicy is the name of a tenancy's global retention policy, which
// applies to every repository not assigned to an override. A tenancy
// without a stored global policy retains everything.
const GlobalPolicy = "global"

// RetentionPolicy is a global or named override retention policy
// (docs/architecture.md §5). An image is deleted when any selected criterion holds
// and it carries no exempt tag.
type RetentionPolicy struct {
	Tenancy string `json:"tenancy"`
	Name    string `json:"name"`
	// NotPulledDays deletes images not pulled for that many days (an
	// image never pulled counts from its push); 0 turns it off.
	NotPulledDays int `json:"notPulledDays,omitempty"`
	// UntaggedDays deletes images without a tag for that many days; 0
	// turns it off.
	UntaggedDays int `json:"untaggedDays,omitempty"`
	// ExemptTags are tag patterns ('*' matches any run of characters);
	// an image carrying a matching tag is kept.
	ExemptTags []string `json:"exemptTags,omitempty"`
	// MaxDeleteShare and MaxDeleteCount override the circuit breaker's
	// limits for this policy's repositories (0: the configured default;
	// a share >= 1 or a negative count turns that limit off).
	MaxDeleteShare float64   `json:"maxDeleteShare,omitempty"`
	MaxDeleteCount int       `json:"maxDeleteCount,omitempty"`
	Created        time.Time `json:"created,omitzero"`
	// Changed is when the criteria last changed; the cooling period runs
	// from it.
	Changed time.Time `json:"changed,omitzero"`
	// Version increases with every write; PutRetentionPolicy is
	// conditional on it.
	Version int64 `json:"version"`
}

// Assignment puts a repository under an override policy. A repository
// has at most one.
type Assignment struct {
	Tenancy string    `json:"tenancy"`
	Repo    string    `json:"repository"`
	Policy  string    `json:"policy"`
	Created time.Time `json:"created,omitzero"`
}

// Notice is a deletion that retention expects to make: what a pull of
// the image warns about (Warning: 299).
type Notice struct {
	// At is the earliest time a run deletes the image.
	At     time.Time `json:"at,omitzero"`
	Policy string    `json:"policy"`
	Reason string    `json:"reason"`
}

// ImageStats is what retention knows of one manifest beyond its record:
// pulls (written by the pull path) and marks (written by runs).
type ImageStats struct {
	Repo       string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	Pulls      int64         `json:"pulls"`
	LastPulled time.Time     `json:"lastPulled,omitzero"`
	ImageMarks
}

// Activity is an image's push and pull history: defined here once, and
// shown the same way by the admin and retention APIs and the CLI, and
// read by the retention rules (docs/retention.md "Activity"). An unset
// time is omitted, never shown as a zero time.
type Activity struct {
	// FirstPushed is when the manifest was first pushed to the
	// repository (Manifest.Created).
	FirstPushed time.Time `json:"firstPushed,omitzero"`
	// LastPushed is its last push by digest or by tag, a re-push or a
	// re-tag such as crane tag (Manifest.LastPushed).
	LastPushed time.Time `json:"lastPushed,omitzero"`
	// LastPulled is its last manifest GET (a HEAD does not count);
	// unset: never pulled.
	LastPulled time.Time `json:"lastPulled,omitzero"`
	// Pulls counts its manifest GETs.
	Pulls int64 `json:"pulls"`
}

// ActivityOf is the activity of manifest m with statistics s.
func ActivityOf(m Manifest, s ImageStats) Activity {
	return Activity{FirstPushed: m.Created, LastPushed: m.LastPushed(), LastPulled: s.LastPulled, Pulls: s.Pulls}
}

// ImageMarks are the fields of ImageStats that retention runs write.
type ImageMarks struct {
	// Tagged says a run has seen the image tagged (directly or through an
	// index) since it last saw it untagged.
	Tagged bool `json:"tagged,omitempty"`
	// UntaggedSince is when a run first saw the image without a tag
	// after seeing it tagged (zero: never seen tagged, so its push time
	// counts).
	UntaggedSince time.Time `json:"untaggedSince,omitzero"`
	// Restored is when the image last came back from the recycle bin;
	// the rules count it as pushed then.
	Restored time.Time `json:"restored,omitzero"`
	// Notice, when set, is the deletion a pull warns about.
	Notice *Notice `json:"notice,omitempty"`
}

// ImageMark is one image's new marks.
type ImageMark struct {
	Digest digest.Digest
	ImageMarks
}

// Pin keeps an image (and what it keeps: children, referrers) from
// retention, until Expires when that is set.
type Pin struct {
	Repo    string        `json:"repository"`
	Digest  digest.Digest `json:"digest"`
	Expires time.Time     `json:"expires,omitzero"`
	Note    string        `json:"note,omitempty"`
	By      string        `json:"by,omitempty"`
	Created time.Time     `json:"created,omitzero"`
}

// Active reports whether the pin holds at t.
func (p Pin) Active(t time.Time) bool { return p.Expires.IsZero() || t.Before(p.Expires) }

// RetentionRun is one application of the retention policies to a
// tenancy's repositories (fanned out, one job per repository).
type RetentionRun struct {
	Tenancy string    `json:"tenancy"`
	ID      string    `json:"id"`
	Started time.Time `json:"started,omitzero"`
	// AsOf is the time the policies were evaluated at (the start,
	// unless a test clock moved it).
	AsOf    time.Time `json:"asOf,omitzero"`
	DryRun  bool      `json:"dryRun,omitempty"`
	Confirm bool      `json:"confirm,omitempty"`
	// Repository limits the run to one repository; "" for all.
	Repository string `json:"repository,omitempty"`
	Trigger    string `json:"trigger"`
	By         string `json:"by,omitempty"`
	// Repositories is how many repository jobs the run started.
	Repositories int `json:"repositories"`
	// Done is how many of them have finished (RunProgress).
	Done int `json:"jobsDone,omitempty"`
	// Finished is when the last job finished (zero: running), and
	// Summary adds up the jobs' outcomes then.
	Finished time.Time   `json:"finished,omitzero"`
	Summary  *RunSummary `json:"summary,omitempty"`
}

// RunSummary adds up a finished run's repository outcomes.
type RunSummary struct {
	Images   int `json:"images"`
	Deleted  int `json:"deleted"`
	Reported int `json:"reported"`
	Restored int `json:"restored"`
	Purged   int `json:"purged"`
	// BreakerTrips counts the repositories the circuit breaker held
	// back (RunRepo.Stopped).
	BreakerTrips int `json:"breakerTrips"`
	// Failed counts the repository jobs that failed.
	Failed int `json:"failed"`
}

// RunRepo is the outcome of one repository's job in a run.
type RunRepo struct {
	Tenancy string `json:"tenancy"`
	RunID   string `json:"runId"`
	Repo    string `json:"repository"`
	Policy  string `json:"policy"`
	// Images is how many manifests the repository held.
	Images   int `json:"images"`
	Deleted  int `json:"deleted"`
	Reported int `json:"reported"`
	Restored int `json:"restored,omitempty"`
	Purged   int `json:"purged,omitempty"`
	// Stopped says the circuit breaker held the run back.
	Stopped  bool      `json:"stopped,omitempty"`
	Note     string    `json:"note,omitempty"`
	Error    string    `json:"error,omitempty"`
	Finished time.Time `json:"finished,omitzero"`
}

// Decision actions.
const (
	// ActionDelete: the image was deleted (a dry run: would be).
	ActionDelete = "delete"
	// ActionReport: a criterion holds but the run only reported it
	// (cooling period, circuit breaker).
	ActionReport = "report"
	// ActionKeep: a criterion holds but something keeps the image (a
	// pin, an exempt tag, a kept index or subject).
	ActionKeep = "keep"
)

// Decision is what a run decided about one image, and why.
type Decision struct {
	Tenancy   string        `json:"tenancy"`
	RunID     string        `json:"runId"`
	Repo      string        `json:"repository"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType,omitempty"`
	Tags      []string      `json:"tags,omitempty"`
	Policy    string        `json:"policy"`
	Action    string        `json:"action"`
	Criterion string        `json:"criterion"`
	Reason    string        `json:"reason"`
	Time      time.Time     `json:"time,omitzero"`
}

// BinnedImage is a deleted image in the recycle bin: everything needed
// to put it back, until Expires.
type BinnedImage struct {
	Tenancy  string    `json:"tenancy"`
	RunID    string    `json:"runId"`
	Manifest Manifest  `json:"manifest"`
	Tags     []Tag     `json:"tags,omitempty"`
	Deleted  time.Time `json:"deleted,omitzero"`
	Expires  time.Time `json:"expires,omitzero"`
	Reason   string    `json:"reason"`
}

// LinkState is a blob link with the time it was last touched (linked,
// mounted, HEAD-checked or confirmed by a manifest push).
type LinkState struct {
	Blob
	Touched time.Time `json:"touched,omitzero"`
}

// BlobState is a blob record with its garbage-collection marks.
type BlobState struct {
	Blob
	// Touched is when the record was last reused or first seen by the
	// collector (zero: never).
	Touched time.Time `json:"touched,omitzero"`
	// Condemned is the marker of the collection that is deleting the
	// record ("" when none): a condemned record is never reused.
	Condemned string `json:"condemned,omitempty"`
}

// RetentionPolicies holds retention policies.
type RetentionPolicies interface {
	// PutRetentionPolicy stores p if the stored version is p.Version-1
	// (0: absent), and returns ErrConflict (or ErrExists, creating)
	// otherwise.
	PutRetentionPolicy(ctx context.Context, p RetentionPolicy) error
	// GetRetentionPolicy returns a policy or ErrNotFound.
	GetRetentionPolicy(ctx context.Context, tenancy, name string) (RetentionPolicy, error)
	// ListRetentionPolicies returns a tenancy's policies by name.
	ListRetentionPolicies(ctx context.Context, tenancy string) ([]RetentionPolicy, error)
	// DeleteRetentionPolicy removes a policy; ErrNotFound if absent.
	DeleteRetentionPolicy(ctx context.Context, tenancy, name string) error
}

// RetentionAssignments holds which repositories override policies
// govern.
type RetentionAssignments interface {
	// Assign puts a repository under a policy; ErrExists if it is under
	// another one (assigning it to the same policy again is no error).
	Assign(ctx context.Context, a Assignment) error
	// Unassign returns a repository to the global policy; ErrNotFound if
	// it had no override.
	Unassign(ctx context.Context, tenancy, repo string) error
	// GetAssignment returns a repository's assignment or ErrNotFound.
	GetAssignment(ctx context.Context, tenancy, repo string) (Assignment, error)
	// ListAssignments returns a tenancy's assignments by repository.
	ListAssignments(ctx context.Context, tenancy string) ([]Assignment, error)
}

// PullStats holds per-image statistics and retention marks.
type PullStats interface {
	// RecordPull counts one pull of repo@d at time at (one write) and
	// returns the updated statistics.
	RecordPull(ctx context.Context, repo string, d digest.Digest, at time.Time) (ImageStats, error)
	// GetImageStats returns an image's statistics; an image never pulled
	// nor marked has zero statistics (no error).
	GetImageStats(ctx context.Context, repo string, d digest.Digest) (ImageStats, error)
	// ListImageStats returns up to limit records of repo in digest order
	// after the digest given (exclusive; "" for the start).
	ListImageStats(ctx context.Context, repo string, after digest.Digest, limit int) ([]ImageStats, error)
	// MarkImages replaces the marks of the images given, leaving their
	// pull counts alone.
	MarkImages(ctx context.Context, repo string, marks []ImageMark) error
	// DeleteImageStats forgets an image's statistics (absent is no
	// error).
	DeleteImageStats(ctx context.Context, repo string, d digest.Digest) error
}

// RetentionRuns holds runs and their per-repository outcomes.
type RetentionRuns interface {
	// CreateRun stores a new run; ErrExists if the ID is taken.
	CreateRun(ctx context.Context, r RetentionRun) error
	// GetRun returns a run or ErrNotFound.
	GetRun(ctx context.Context, tenancy, id string) (RetentionRun, error)
	// ListRuns returns up to limit runs, newest first, older than the
	// run ID given ("" for the newest). Run IDs sort by start time.
	ListRuns(ctx context.Context, tenancy, before string, limit int) ([]RetentionRun, error)
	// PutRunRepo stores (or replaces) a repository's outcome in a run.
	PutRunRepo(ctx context.Context, r RunRepo) error
	// ListRunRepos returns a run's repository outcomes by repository.
	ListRunRepos(ctx context.Context, tenancy, runID string) ([]RunRepo, error)
}

// RunProgress counts a run's finished repository jobs and closes the
// run once, whichever job finishes last (jobs run in parallel and may
// be retried).
type RunProgress interface {
	// CountRunRepo counts the job of repo in a run as finished, once
	// however often it runs: the first call for the repository adds one
	// to the run's Done and returns the run and true; a later call
	// returns the run and false. ErrNotFound if the run or the
	// repository's outcome (PutRunRepo) is absent.
	CountRunRepo(ctx context.Context, tenancy, runID, repo string) (RetentionRun, bool, error)
	// FinishRun stores r's Finished and Summary unless the run is
	// finished already (ErrConflict); ErrNotFound if absent. It carries
	// an event (store.WithEvent).
	FinishRun(ctx context.Context, r RetentionRun) error
}

// RetentionDecisions holds the decisions of runs.
type RetentionDecisions interface {
	// PutDecisions stores decisions (idempotent by run, repository and
	// digest).
	PutDecisions(ctx context.Context, ds []Decision) error
	// ListDecisions returns up to limit decisions of a run ordered by
	// repository then digest, after the cursor given (exclusive; "" for
	// the start; a cursor is the last decision's DecisionCursor).
	ListDecisions(ctx context.Context, tenancy, runID, after string, limit int) ([]Decision, error)
}

// DecisionCursor is the paging cursor of a decision in ListDecisions.
func DecisionCursor(d Decision) string { return d.Repo + "@" + d.Digest.String() }

// Pins holds pins.
type Pins interface {
	// PutPin creates or replaces a pin.
	PutPin(ctx context.Context, p Pin) error
	// DeletePin removes a pin; ErrNotFound if absent.
	DeletePin(ctx context.Context, repo string, d digest.Digest) error
	// ListPins returns a repository's pins, expired ones included.
	ListPins(ctx context.Context, repo string) ([]Pin, error)
}

// RecycleBin holds deleted images until they expire or are restored.
type RecycleBin interface {
	// PutBinned stores (or replaces) a binned image.
	PutBinned(ctx context.Context, b BinnedImage) error
	// GetBinned returns a binned image or ErrNotFound.
	GetBinned(ctx context.Context, repo string, d digest.Digest) (BinnedImage, error)
	// ListBinned returns up to limit binned images of repo in digest
	// order after the digest given (exclusive; "" for the start).
	ListBinned(ctx context.Context, repo string, after digest.Digest, limit int) ([]BinnedImage, error)
	// DeleteBinned removes a binned image; ErrNotFound if absent.
	DeleteBinned(ctx context.Context, repo string, d digest.Digest) error
	// DeleteTagIf removes a tag only while it points at d: ErrConflict
	// if it points elsewhere, ErrNotFound if absent (so that retention
	// never removes a tag a concurrent push just moved).
	DeleteTagIf(ctx context.Context, repo, name string, d digest.Digest) error
}

// BlobTouches is what the push path calls so that garbage collection
// sees blobs in use. Touch times come from the store's clock.
type BlobTouches interface {
	// TouchLink marks the link of d in repo used now and returns it;
	// ErrNotFound if there is none.
	TouchLink(ctx context.Context, repo string, d digest.Digest) (Blob, error)
	// TouchBlob marks the record of d used now, unless it is condemned;
	// ErrNotFound if absent, ErrConflict (with the state, whose
	// Condemned marker ReplaceCondemnedBlob needs) if condemned.
	TouchBlob(ctx context.Context, d digest.Digest) (BlobState, error)
	// ReplaceCondemnedBlob replaces the record of b.Digest, condemned
	// with marker, by b (touched now); ErrConflict if the record is not
	// condemned with marker (deleted or replaced meanwhile).
	ReplaceCondemnedBlob(ctx context.Context, b Blob, marker string) error
}

// LinkCollector is what garbage collection needs of blob links.
type LinkCollector interface {
	// ListLinkStates returns up to limit links of repo in digest order
	// after the digest given (exclusive; "" for the start).
	ListLinkStates(ctx context.Context, repo string, after digest.Digest, limit int) ([]LinkState, error)
	// DeleteStaleLink removes the link of d in repo if it was last
	// touched before cutoff; ErrConflict if touched since, ErrNotFound
	// if absent.
	DeleteStaleLink(ctx context.Context, repo string, d digest.Digest, cutoff time.Time) error
}

// BlobCollector is what garbage collection needs of blob records.
type BlobCollector interface {
	// ListBlobStates returns up to limit blob records in digest order
	// after the digest given (exclusive; "" for the start).
	ListBlobStates(ctx context.Context, after digest.Digest, limit int) ([]BlobState, error)
	// CondemnBlob marks the record of d condemned by marker if it is not
	// condemned and was touched, but before cutoff; ErrConflict
	// otherwise, ErrNotFound if absent.
	CondemnBlob(ctx context.Context, d digest.Digest, marker string, cutoff time.Time) error
	// DeleteCondemnedBlob removes the record of d if it is condemned
	// with marker; ErrConflict otherwise, ErrNotFound if absent.
	DeleteCondemnedBlob(ctx context.Context, d digest.Digest, marker string) error
}

// Retention is everything image retention and garbage collection store,
// beside Metadata (in the same table).
type Retention interface {
	RetentionPolicies
	RetentionAssignments
	PullStats
	RetentionRuns
	RunProgress
	RetentionDecisions
	Pins
	RecycleBin
	BlobTouches
	LinkCollector
	BlobCollector
}
