package events

import (
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// ManifestPushedData is manifest.pushed's data: a manifest stored by a
// push, with the tags the push set. It is published when the push's last
// write commits (its last tag, or the manifest when pushed by digest).
type ManifestPushedData struct {
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"mediaType"`
	Size         int64         `json:"size"`
	ArtifactType string        `json:"artifactType,omitempty"`
	// Subject is the manifest this one refers to (a signature, an SBOM).
	Subject digest.Digest `json:"subject,omitempty"`
	Tags    []string      `json:"tags,omitempty"`
}

// TagMovedData is tag.moved's data: a push pointed an existing tag at
// another manifest.
type TagMovedData struct {
	Tag            string        `json:"tag"`
	Digest         digest.Digest `json:"digest"`
	PreviousDigest digest.Digest `json:"previousDigest"`
}

// TagDeletedData is tag.deleted's data: a tag deleted by a client
// (DELETE /v2/<name>/manifests/<tag>).
type TagDeletedData struct {
	Tag    string        `json:"tag"`
	Digest digest.Digest `json:"digest"`
}

// ImageDeletedData is image.deleted's data: a manifest deleted by a
// client, or moved to the recycle bin by a retention run (the actor
// says which), with the tags that pointed at it.
type ImageDeletedData struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType,omitempty"`
	Tags      []string      `json:"tags,omitempty"`
	// Policy and Reason say why a retention run deleted it.
	Policy string `json:"policy,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Restorable until then (a retention run's deletion).
	RestorableUntil time.Time `json:"restorableUntil,omitzero"`
}

// ImageRestoredData is image.restored's data: an image put back from the
// recycle bin (by a user, or by the run itself when a push wanted it).
type ImageRestoredData struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType,omitempty"`
	Tags      []string      `json:"tags,omitempty"`
	// DeletedBy is the run that had deleted it.
	DeletedBy string `json:"deletedBy"`
}

// RepositoryData is repository.created's and
// repository.visibility_changed's data: the repository's settings
// after the change.
type RepositoryData struct {
	Public        bool `json:"public"`
	ImmutableTags bool `json:"immutableTags"`
}

// RepositoryDeletedData is repository.deleted's data: what went with
// the repository.
type RepositoryDeletedData struct {
	Tags      int `json:"tags"`
	Manifests int `json:"manifests"`
	BlobLinks int `json:"blobLinks"`
}

// Changes a policy event reports.
const (
	Created    = "created"
	Updated    = "updated"
	Deleted    = "deleted"
	Assigned   = "assigned"
	Unassigned = "unassigned"
)

// PolicyData is policy.changed's data.
type PolicyData struct {
	Policy string `json:"policy"`
	// Change is created, updated or deleted.
	Change     string   `json:"change"`
	Statements []string `json:"statements,omitempty"`
}

// RetentionPolicyData is retention_policy.changed's data: a policy
// created, updated or deleted, or a repository assigned to or
// unassigned from an override policy.
type RetentionPolicyData struct {
	Policy string `json:"policy"`
	// Change is created, updated, deleted, assigned or unassigned.
	Change string `json:"change"`
	// Repository is the repository assigned or unassigned.
	Repository    string   `json:"repository,omitempty"`
	NotPulledDays int      `json:"notPulledDays,omitempty"`
	UntaggedDays  int      `json:"untaggedDays,omitempty"`
	ExemptTags    []string `json:"exemptTags,omitempty"`
	Version       int64    `json:"version,omitempty"`
}

// RunFinishedData is retention_run.finished's data: a run's outcome
// once its last repository job finished (its summed outcomes inline:
// images, deleted, reported, restored, purged, breakerTrips — the
// repositories whose deletions the circuit breaker held back — and
// failed).
type RunFinishedData struct {
	RunID        string    `json:"runId"`
	Trigger      string    `json:"trigger"`
	DryRun       bool      `json:"dryRun,omitempty"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	Repositories int       `json:"repositories"`
	store.RunSummary
}

// LoginsRefusedData is login.refused_bulk's data: a tenancy's refused
// logins reached the threshold within one window.
type LoginsRefusedData struct {
	Refused     int       `json:"refused"`
	Threshold   int       `json:"threshold"`
	WindowStart time.Time `json:"windowStart"`
	WindowEnd   time.Time `json:"windowEnd"`
}
