package main

import (
	"sort"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/route"
)

// Functions the route table does not name: later issues' and the
// pull-through cache's fill function, which the blobs functions invoke.
const (
	fnConsole   = "console"
	fnRetention = "retention"
	fnEvents    = "events"
	fnFill      = "fill"
)

// function is one Lambda function of the stack. Adding a function is one
// line in functionTable; its routes come from the route table.
type function struct {
	Name    string
	Memory  float64 // MB; CPU share grows with it
	Timeout time.Duration
	Grants  []grant
	// Later marks a function whose code arrives with a later issue: the
	// stack creates it (and its routes) only when dist/<name>.zip exists,
	// so the stack deploys before and after that function lands.
	Later bool
	// Retention marks a function that applies retention policies and
	// collects garbage (retention.ConfigFromEnv): it gets the
	// BERTH_RETENTION_* and BERTH_GC_GRACE settings.
	Retention bool
	// Tenancy marks a function that reads the bootstrap tenancy
	// (BERTH_TENANCY): its administrators create tenancies and start
	// collections across them (shared/admin, shared/retention's API).
	Tenancy bool
}

// target is what a grant applies to.
type target int

const (
	onTable    target = iota // the DynamoDB table (and its indexes)
	onObjects                // keys under a prefix of the S3 bucket
	onKey                    // the token-signing KMS key
	onSelf                   // the function itself (lambda:InvokeFunction)
	onStream                 // the table's change stream
	onBus                    // the event bus
	onCacheKey               // the KMS key that seals pull-through credentials
	onFill                   // the fill function (lambda:InvokeFunction)
)

// grant is actions on one target; Prefix is the S3 key prefix for
// onObjects ("blobs/" grants blobs/*).
type grant struct {
	On      target
	Prefix  string
	Actions []string
}

func tableGrant(actions ...string) grant { return grant{On: onTable, Actions: actions} }

func objectGrant(prefix string, actions ...string) grant {
	return grant{On: onObjects, Prefix: prefix, Actions: actions}
}

func keyGrant(actions ...string) grant { return grant{On: onKey, Actions: actions} }

func selfGrant(actions ...string) grant { return grant{On: onSelf, Actions: actions} }

func streamGrant(actions ...string) grant { return grant{On: onStream, Actions: actions} }

func busGrant(actions ...string) grant { return grant{On: onBus, Actions: actions} }

func cacheKeyGrant(actions ...string) grant { return grant{On: onCacheKey, Actions: actions} }

// invokeFill lets a function hand pull-through fills to the fill
// function (BERTH_FILL_FUNCTION).
var invokeFill = grant{On: onFill, Actions: []string{"lambda:InvokeFunction"}}

// Bucket layout (shared/registry): committed blobs (each where its
// upload put it, blobs/<upload id>), large manifests, and temporary
// upload tails, which a lifecycle rule expires.
const (
	blobsPrefix     = "blobs/"
	manifestsPrefix = "manifests/"
	uploadsPrefix   = "uploads/"
)

// DynamoDB actions as shared/store/dynamo sends them. Reads are
// strongly consistent GetItem and Query (a manifest whose record
// overflows one item is a GetItem plus a Query, wherever it is read);
// writes are single-item (conditional) PutItem and DeleteItem, except
// that retention's counters and marks are UpdateItem (RecordPull on a
// manifest GET, TouchLink on blob HEAD, mount and manifest PUT,
// TouchBlob on a commit that reuses a digest, MarkImages and CondemnBlob
// in runs and collections) and a run's decisions are BatchWriteItem
// (PutDecisions). Nothing scans the table or uses a transaction.
const (
	ddbGet        = "dynamodb:GetItem"
	ddbQuery      = "dynamodb:Query"
	ddbPut        = "dynamodb:PutItem"
	ddbUpdate     = "dynamodb:UpdateItem"
	ddbDelete     = "dynamodb:DeleteItem"
	ddbBatchWrite = "dynamodb:BatchWriteItem"
)

// S3 actions: s3:PutObject also covers CreateMultipartUpload,
// UploadPart (presigned part URLs of direct uploads included) and
// CompleteMultipartUpload; s3:GetObject covers HeadObject and the
// presigned GETs a function signs.
const (
	s3Get   = "s3:GetObject"
	s3Put   = "s3:PutObject"
	s3Del   = "s3:DeleteObject"
	s3Abort = "s3:AbortMultipartUpload"
)

// registryGrants are what each registry function does with the table and
// bucket, read from shared/registry (with its PullTracker and the
// store's BlobTouches), shared/authz and the stores. None touches the
// signing key: they enforce the authorizer's decision and ask policy
// questions of metadata only (shared/app/registryfn).
var registryGrants = map[string][]grant{
	// GET reads a tag and the manifest (its body from manifests/ when
	// large) and counts the pull (UpdateItem); PUT checks references,
	// creates the repository (policy lookup), stores manifest and tags,
	// re-touches the blob links (UpdateItem), takes the manifest back if
	// one is gone, and audits; DELETE removes tags and manifests. In a
	// pull-through cache (shared/pullthrough) a miss reads the tenancy's
	// rules (Query), claims the fill (PutItem, DeleteItem), opens the
	// rule's sealed credentials (kms:Decrypt) and stores the manifest as
	// a push would.
	route.Manifests: {
		tableGrant(ddbGet, ddbQuery, ddbPut, ddbUpdate, ddbDelete),
		objectGrant(manifestsPrefix, s3Get, s3Put),
		cacheKeyGrant("kms:Decrypt"),
	},
	// GET reads the link and presigns the blob; a digest that is no
	// blob may be a manifest fetched through the blobs endpoint (GetItem,
	// plus Query when its record overflows; its body from manifests/).
	// HEAD touches the link (UpdateItem); DELETE unlinks. In a
	// pull-through cache a miss claims the fill (PutItem, DeleteItem),
	// opens the rule's credentials (kms:Decrypt), and either fills a
	// small blob itself (one PutObject under blobs/, the blob record and
	// link; a duplicate object deleted) or hands the fill to the fill
	// function.
	route.Blobs: {
		tableGrant(ddbGet, ddbQuery, ddbPut, ddbUpdate, ddbDelete),
		objectGrant(blobsPrefix, s3Get, s3Put, s3Del),
		objectGrant(manifestsPrefix, s3Get),
		cacheKeyGrant("kms:Decrypt"),
		invokeFill,
	},
	// Sessions are PutItem (compare-and-set) and DeleteItem; a mount
	// touches the source link and a commit of a known digest the blob
	// record (UpdateItem), replacing a condemned one (PutItem). A blob is
	// written where its upload put it (blobs/<upload id>, whole or
	// multipart, or part by part through presigned URLs for a direct
	// upload, then read back to verify its digest); tails of chunked
	// uploads wait under uploads/ as whole objects.
	route.Uploads: {
		tableGrant(ddbGet, ddbQuery, ddbPut, ddbUpdate, ddbDelete),
		objectGrant(uploadsPrefix, s3Put, s3Get, s3Del),
		objectGrant(blobsPrefix, s3Put, s3Get, s3Del, s3Abort),
	},
	// The repository, then one Query of its tags.
	route.Tags: {tableGrant(ddbGet, ddbQuery)},
	// One Query of the subject's referrer copies, nothing else.
	route.Referrers: {tableGrant(ddbQuery)},
	// A Query of repositories, and per repository the caller's policy
	// (user GetItem, policies Query).
	route.Catalog: {tableGrant(ddbGet, ddbQuery)},
}

// retentionTable is what applying retention and collecting garbage do
// with the table: everything but Scan and transactions.
var retentionTable = tableGrant(ddbGet, ddbQuery, ddbPut, ddbUpdate, ddbDelete, ddbBatchWrite)

// functionTable is every function the stack knows. The routed functions'
// timeouts stay under the HTTP API's 30 s integration limit. Uploads get
// more memory for CPU: they hash and base64-decode up to 10 MB a request.
func functionTable() []function {
	return []function{
		// Base and blobs may wait for a pull-through fill (up to 20 s).
		{Name: route.Base, Memory: 256, Timeout: 29 * time.Second, Grants: baseGrants()},
		{Name: route.Manifests, Memory: 256, Timeout: 15 * time.Second, Grants: registryGrants[route.Manifests]},
		{Name: route.Blobs, Memory: 256, Timeout: 29 * time.Second, Grants: registryGrants[route.Blobs]},
		{Name: route.Uploads, Memory: 1024, Timeout: 29 * time.Second, Grants: registryGrants[route.Uploads]},
		{Name: route.Tags, Memory: 256, Timeout: 10 * time.Second, Grants: registryGrants[route.Tags]},
		{Name: route.Referrers, Memory: 256, Timeout: 10 * time.Second, Grants: registryGrants[route.Referrers]},
		{Name: route.Catalog, Memory: 256, Timeout: 15 * time.Second, Grants: registryGrants[route.Catalog]},
		// The authorizer reads tokens, users, groups, policies and
		// federation rules, and verifies JWTs locally with the public
		// key, which it reads once per cold start (shared/app
		// Authorizer); keyless logins fetch the trusted OIDC issuers'
		// keys over the internet, within 5 s (docs/keyless.md).
		{Name: route.Authorizer, Memory: 256, Timeout: 10 * time.Second, Later: true,
			Grants: []grant{tableGrant(ddbGet, ddbQuery), keyGrant("kms:GetPublicKey")}},
		// The token endpoint checks credentials, audits logins and signs
		// with the private key, which never leaves KMS.
		{Name: route.Token, Memory: 256, Timeout: 10 * time.Second, Later: true,
			Grants: []grant{tableGrant(ddbGet, ddbPut, ddbQuery), keyGrant("kms:GetPublicKey", "kms:Sign")}},
		// The admin API (shared/admin) works on metadata and never
		// touches the key, but for blob verification (shared/scrub,
		// POST /api/blobs/verify), which reads blob objects to re-hash
		// them; the retention API it also serves (/api/retention/) runs
		// retention in the invocation (no dispatcher: shared/app
		// Function) and starts a garbage collection, which deletes blob
		// objects. It also writes pull-through cache rules, sealing
		// their upstream credentials (kms:Encrypt; it never opens them).
		{Name: route.Admin, Memory: 512, Timeout: 29 * time.Second, Later: true, Retention: true, Tenancy: true,
			Grants: []grant{retentionTable, objectGrant(blobsPrefix, s3Get, s3Del), cacheKeyGrant("kms:Encrypt")}},
		{Name: fnConsole, Memory: 128, Timeout: 10 * time.Second, Later: true},
		// Retention (shared/retention: Hourly, RunRepository, Collect)
		// fans a run out by invoking itself asynchronously, one job per
		// repository, and deletes the objects of the blobs it collects.
		// It lists nothing in the bucket: nothing calls
		// backend.SweepUploads yet, and the lifecycle rules clean up
		// after abandoned uploads. Large manifest bodies (manifests/) are
		// not collected yet. Memory: a collection holds every linked
		// digest of the registry in one map.
		{Name: fnRetention, Memory: 1024, Timeout: 15 * time.Minute, Later: true, Retention: true,
			Grants: []grant{retentionTable, objectGrant(blobsPrefix, s3Del), selfGrant("lambda:InvokeFunction")}},
		// Events (functions/events) reads the table's change stream
		// (the four actions Lambda's poller needs, on the stream only)
		// and puts events on the bus; it reads and writes no item.
		{Name: fnEvents, Memory: 256, Timeout: time.Minute, Later: true,
			Grants: []grant{
				streamGrant("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"),
				busGrant("events:PutEvents"),
			}},
		// The pull-through cache's asynchronous fills (functions/fill):
		// under its claim (GetItem, PutItem, DeleteItem) it streams one
		// blob from the upstream into a multipart upload under blobs/
		// (aborted, or the object deleted, when the digest is wrong),
		// then records and links it as a commit does (PutItem, UpdateItem
		// to touch a reused record; an existing record's object is
		// checked, GetObject, before it is trusted) and audits. It reads the rule (Query)
		// and opens its credentials (kms:Decrypt). Memory buys network
		// throughput; Lambda's longest timeout bounds a multi-GB layer.
		{Name: fnFill, Memory: 1024, Timeout: 15 * time.Minute,
			Grants: []grant{tableGrant(ddbGet, ddbQuery, ddbPut, ddbUpdate, ddbDelete),
				objectGrant(blobsPrefix, s3Get, s3Put, s3Del, s3Abort), cacheKeyGrant("kms:Decrypt")}},
	}
}

// baseGrants is the union of the registry functions' grants: the
// catch-all route lands in base, which may serve any registry route (a
// path API Gateway did not match to a specific route, such as a trailing
// slash variant).
func baseGrants() []grant {
	var all []grant
	for _, name := range route.RegistryFunctions {
		all = append(all, registryGrants[name]...)
	}
	return mergeGrants(all)
}

// mergeGrants folds grants on the same target and prefix into one, with
// sorted, de-duplicated actions, in a stable order.
func mergeGrants(gs []grant) []grant {
	type k struct {
		on     target
		prefix string
	}
	acts := map[k]map[string]bool{}
	var order []k
	for _, g := range gs {
		key := k{g.On, g.Prefix}
		if acts[key] == nil {
			acts[key] = map[string]bool{}
			order = append(order, key)
		}
		for _, a := range g.Actions {
			acts[key][a] = true
		}
	}
	out := make([]grant, 0, len(order))
	for _, key := range order {
		out = append(out, grant{On: key.on, Prefix: key.prefix, Actions: sortedKeys(acts[key])})
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// splitSelf separates f's grants on itself, which name the function's
// own ARN, from the others (grants on the fill function are made once
// every function exists: Stack.handFillsTo).
func (f function) splitSelf() (others, self []grant) {
	for _, g := range f.Grants {
		switch g.On {
		case onSelf:
			self = append(self, g)
		case onFill:
		default:
			others = append(others, g)
		}
	}
	return others, self
}

// has reports whether f holds a grant on target.
func (f function) has(on target) bool {
	for _, g := range f.Grants {
		if g.On == on {
			return true
		}
	}
	return false
}

// usesKey reports whether f reads or signs with the token-signing key.
func (f function) usesKey() bool { return f.has(onKey) }

// logicalName is f's name as a construct id ("uploads" → "Uploads").
func (f function) logicalName() string {
	return strings.ToUpper(f.Name[:1]) + f.Name[1:]
}
