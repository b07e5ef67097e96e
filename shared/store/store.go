// Package store defines Berth's two storage interfaces — metadata and
// objects — and the records they hold. Implementations live in
// subpackages (local: bbolt + files; the AWS ones: DynamoDB + S3) and all
// pass the same contract suite in storetest.
//
// Every write that two writers can race on is a single-item conditional
// write (create-if-absent, compare-version), so no implementation needs
// transactions.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

// Sentinel errors; implementations wrap them with context.
var (
	// ErrNotFound: the record or object does not exist (or has expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a conditional write lost a race (version moved on).
	ErrConflict = errors.New("conflict")
	// ErrExists: a create-if-absent write found the record already there.
	ErrExists = errors.New("already exists")
	// ErrInvalid: a key (a name, id or cursor) over what the store can
	// hold; nothing was read or written. Callers validate every client
	// value first (oci, auth), so this is a backstop: a store refuses
	// such a key itself rather than sending it (DynamoDB: partition keys
	// up to 2,048 bytes, sort keys up to 1,024).
	ErrInvalid = errors.New("key over the store's limits")
)

// Repository is one repository, created by its first push (private) or
// by an administrator.
type Repository struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created,omitzero"`
	// Public repositories can be pulled by anyone, anonymously.
	Public bool `json:"public,omitempty"`
	// ImmutableTags refuses a push that would move an existing tag.
	ImmutableTags bool `json:"immutableTags,omitempty"`
}

// Manifest is a stored manifest and what the registry needs to know about
// it without parsing it again.
type Manifest struct {
	Repo      string        `json:"repo"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	// Body is the manifest itself when stored inline; empty when BodyKey
	// names the object holding it (large manifests).
	Body    []byte `json:"body,omitempty"`
	BodyKey string `json:"bodyKey,omitempty"`
	// Subject is the digest of the manifest this one refers to (a
	// referrer such as a signature or SBOM), or empty.
	Subject      digest.Digest     `json:"subject,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	// Refs are the blobs and child manifests the manifest references.
	Refs []digest.Digest `json:"refs,omitempty"`
	// Created is when the manifest was first pushed to the repository
	// (Activity.FirstPushed): a later push of the same digest keeps it.
	Created time.Time `json:"created,omitzero"`
	// Pushed is when it was last pushed, by digest or by tag: a re-push
	// or a re-tag (crane tag, docker push under a new tag) moves it
	// (Activity.LastPushed). Records written before Berth kept it lack
	// it; LastPushed then reads Created.
	Pushed time.Time `json:"pushed,omitzero"`
	// PushedBy is the principal ("<tenancy>/<user>") of the last push
	// (with Pushed); empty for an unauthenticated push or a record
	// written before Berth kept it.
	PushedBy string `json:"pushedBy,omitempty"`
	// ImageSize is an image manifest's config plus layers in bytes (what
	// pulling it downloads besides the manifest); zero for an index,
	// whose size is its children's, and for records written before
	// Berth kept it (the admin API then reads it from the body).
	ImageSize int64 `json:"imageSize,omitempty"`
}

// LastPushed is when the manifest was last pushed (see Pushed).
func (m Manifest) LastPushed() time.Time {
	if m.Pushed.IsZero() {
		return m.Created
	}
	return m.Pushed
}

// Tag points a name in a repository at a manifest digest. It repeats the
// manifest's media type and size so that a HEAD by tag is one read.
type Tag struct {
	Repo      string        `json:"repo"`
	Name      string        `json:"name"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType,omitempty"`
	Size      int64         `json:"size,omitempty"`
	Updated   time.Time     `json:"updated,omitzero"`
	// Checked is when a pull-through cache's upstream last confirmed
	// the tag (docs/pull-through.md); zero for a pushed tag. A cached
	// tag older than its rule's refresh interval is asked about again.
	Checked time.Time `json:"checked,omitzero"`
}

// Blob is the registry-wide record of some content: where its bytes are.
// A blob is readable in a repository only through a link (see Blobs).
type Blob struct {
	Digest  digest.Digest `json:"digest"`
	Size    int64         `json:"size"`
	Key     string        `json:"key"`
	Created time.Time     `json:"created,omitzero"`
}

// Part is one uploaded part of a multipart object.
type Part struct {
	Number int    `json:"n"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
}

// Upload is an upload session's state, persisted between the requests of
// a chunked upload so any function instance can continue it.
type Upload struct {
	ID   string `json:"id"`
	Repo string `json:"repo"`
	// Key is the object the blob will be stored at when committed.
	Key string `json:"key"`
	// MultipartID is the multipart upload under Key, once a part was
	// written.
	MultipartID string `json:"multipartId,omitempty"`
	Parts       []Part `json:"parts,omitempty"`
	// Offset is the number of bytes received so far.
	Offset int64 `json:"offset"`
	// TailKey holds bytes received but not yet written as a part (parts
	// must be at least the store's minimum part size); TailSize is their
	// count.
	TailKey  string `json:"tailKey,omitempty"`
	TailSize int64  `json:"tailSize,omitempty"`
	// Hashes are the marshalled states of the running digests, by
	// algorithm, so commit never re-reads the bytes.
	Hashes  map[string][]byte `json:"hashes"`
	Created time.Time         `json:"created,omitzero"`
	Expires time.Time         `json:"expires,omitzero"`
	// Version increases with every update; UpdateUpload is conditional
	// on it.
	Version int64 `json:"version"`
}

// Repositories holds the repository list.
type Repositories interface {
	// EnsureRepository creates the repository if it does not exist.
	EnsureRepository(ctx context.Context, name string) error
	// GetRepository returns a repository or ErrNotFound.
	GetRepository(ctx context.Context, name string) (Repository, error)
	// ListRepositories returns up to limit names in lexical order, after
	// the name given (exclusive; "" for the start).
	ListRepositories(ctx context.Context, after string, limit int) ([]string, error)
	// PutRepository creates or replaces a repository's record (its
	// settings).
	PutRepository(ctx context.Context, r Repository) error
	// DeleteRepository removes a repository's record (callers remove
	// its tags, manifests and links first); ErrNotFound if absent.
	DeleteRepository(ctx context.Context, name string) error
}

// Manifests holds manifests by repository and digest.
type Manifests interface {
	// PutManifest stores a manifest (idempotent by repository and digest).
	PutManifest(ctx context.Context, m Manifest) error
	// GetManifest returns a manifest or ErrNotFound.
	GetManifest(ctx context.Context, repo string, d digest.Digest) (Manifest, error)
	// DeleteManifest removes a manifest or returns ErrNotFound.
	DeleteManifest(ctx context.Context, repo string, d digest.Digest) error
	// Referrers returns the manifests in repo whose subject is d.
	Referrers(ctx context.Context, repo string, d digest.Digest) ([]Manifest, error)
	// ListManifests returns up to limit manifests of repo in digest
	// order, after the digest given (exclusive; "" for the start).
	ListManifests(ctx context.Context, repo string, after digest.Digest, limit int) ([]Manifest, error)
}

// Tags holds tags by repository.
type Tags interface {
	// PutTag creates or moves a tag (one atomic write: of two racing
	// pushes, the last wins).
	PutTag(ctx context.Context, t Tag) error
	// CreateTag stores a tag that does not exist yet; ErrExists (and the
	// first tag stays) otherwise. Immutable tags are written with it, so
	// of racing first pushes exactly one wins.
	CreateTag(ctx context.Context, t Tag) error
	// GetTag returns a tag or ErrNotFound.
	GetTag(ctx context.Context, repo, name string) (Tag, error)
	// DeleteTag removes a tag or returns ErrNotFound.
	DeleteTag(ctx context.Context, repo, name string) error
	// ListTags returns up to limit tags of repo in lexical order, after
	// the name given (exclusive; "" for the start).
	ListTags(ctx context.Context, repo, after string, limit int) ([]Tag, error)
}

// TagNames is what a Tags store may also offer: ListTags' names alone,
// for the tags list, which needs nothing else (decoding each record
// cost more than the rest of listing a thousand tags).
type TagNames interface {
	// ListTagNames returns what ListTags returns, names only.
	ListTagNames(ctx context.Context, repo, after string, limit int) ([]string, error)
}

// Blobs holds blob records and the per-repository links that make a blob
// readable in a repository.
type Blobs interface {
	// PutBlob records a blob if no record for its digest exists; it
	// returns ErrExists (and leaves the first record) otherwise.
	PutBlob(ctx context.Context, b Blob) error
	// GetBlob returns a blob record or ErrNotFound.
	GetBlob(ctx context.Context, d digest.Digest) (Blob, error)
	// LinkBlob makes blob b readable in repo (and records the time, which
	// garbage collection respects). The link repeats b's size and key so
	// that a blob GET or HEAD is one read; a heal that replaces the
	// record moves them (BlobRepairs.RepointLink).
	LinkBlob(ctx context.Context, repo string, b Blob) error
	// GetLink returns the blob linked to repo under d, or ErrNotFound.
	GetLink(ctx context.Context, repo string, d digest.Digest) (Blob, error)
	// UnlinkBlob removes d from repo or returns ErrNotFound.
	UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error
	// ListLinks returns up to limit blobs linked to repo in digest order,
	// after the digest given (exclusive; "" for the start).
	ListLinks(ctx context.Context, repo string, after digest.Digest, limit int) ([]Blob, error)
}

// BlobRepairs is what detecting and healing a blob record whose object
// does not hold its digest's bytes needs (docs/storage.md, "Detect and
// heal").
type BlobRepairs interface {
	// ReplaceBlob replaces the record of b.Digest by b, touched now, if
	// the record still names old.Key (condemned or not); ErrConflict if
	// it names another key, ErrNotFound if absent.
	ReplaceBlob(ctx context.Context, b, old Blob) error
	// QuarantineBlob condemns the record of old.Digest with marker if it
	// still names old.Key and is not condemned: it is never reused (the
	// next verified upload of the digest replaces it) and garbage
	// collection removes it and its object once nothing links it.
	// ErrConflict otherwise, ErrNotFound if absent.
	QuarantineBlob(ctx context.Context, old Blob, marker string) error
	// RepointLink makes the link of b.Digest in repo name b's object
	// (key and size) if it still names the key old, keeping its touch
	// time: a link made before a heal replaced the record names the bad
	// object, and a blob GET reads only the link. ErrConflict if the
	// link names another key or changed meanwhile, ErrNotFound if
	// absent.
	RepointLink(ctx context.Context, repo string, b Blob, old string) error
	// UnlinkBlobIf removes the link of d in repo if it names the key
	// (a quarantine removes the links to a bad object, never one a
	// commit of the verified bytes wrote meanwhile); ErrConflict if it
	// names another key or changed meanwhile, ErrNotFound if absent.
	UnlinkBlobIf(ctx context.Context, repo string, d digest.Digest, key string) error
}

// Uploads holds upload sessions.
type Uploads interface {
	// CreateUpload stores a new session (Version 1).
	CreateUpload(ctx context.Context, u Upload) error
	// GetUpload returns a session, or ErrNotFound when it does not exist
	// or has expired (expiry is checked on read, since TTL deletion is
	// lazy).
	GetUpload(ctx context.Context, id string) (Upload, error)
	// UpdateUpload stores u if the stored version is u.Version-1, and
	// returns ErrConflict otherwise.
	UpdateUpload(ctx context.Context, u Upload) error
	// DeleteUpload removes a session if it is still at version (the
	// one GetUpload returned): ErrNotFound if absent, ErrConflict if a
	// request moved it on. A commit and a cancel both claim a session
	// this way, so of two requests continuing one version exactly one
	// proceeds (docs/storage.md, "State machines").
	DeleteUpload(ctx context.Context, id string, version int64) error
}

// Metadata is everything the registry stores about content.
type Metadata interface {
	Repositories
	Manifests
	Tags
	Blobs
	BlobRepairs
	Uploads
}

// Objects stores bytes by key: blobs, large manifests, upload tails.
type Objects interface {
	// Put writes an object of the given size.
	Put(ctx context.Context, key string, data []byte) error
	// Get reads a whole object (used for small objects only: upload
	// tails, large manifests); ErrNotFound if absent.
	Get(ctx context.Context, key string) ([]byte, error)
	// Stat returns an object's size or ErrNotFound.
	Stat(ctx context.Context, key string) (int64, error)
	// Delete removes an object; deleting a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// PresignGet returns a URL that serves the object for ttl. It may be
	// a path ("/..."), which the caller resolves against the request.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// Mover is an Objects that can move an object to another key without
// its bytes passing through the caller: a rename of files, S3's
// CopyObject then DeleteObject. After a move the source is gone (on S3
// it may linger if the delete fails; upload tails, the one thing moved,
// expire by the bucket's lifecycle rule). ErrNotFound if from is absent.
type Mover interface {
	Move(ctx context.Context, from, to string) error
}

// Multipart writes large objects in parts, as S3 does: parts of at least
// MinPartSize bytes but the last, completed in one call, without any copy.
type Multipart interface {
	// CreateMultipart starts a multipart object at key.
	CreateMultipart(ctx context.Context, key string) (uploadID string, err error)
	// UploadPart writes part n (1-based) and returns its ETag.
	UploadPart(ctx context.Context, key, uploadID string, n int, data []byte) (etag string, err error)
	// CompleteMultipart assembles the parts into the object; it fails if
	// a part's ETag does not match what was written.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) error
	// AbortMultipart discards the parts.
	AbortMultipart(ctx context.Context, key, uploadID string) error
}

// MinPartSize is S3's minimum multipart part size (all but the last part);
// every implementation enforces it so that tests catch what S3 refuses.
const MinPartSize = 5 << 20

// BlobStore is the object storage the registry needs.
type BlobStore interface {
	Objects
	Multipart
}
