package main

import (
	"sort"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/route"
)

// Functions of later issues that the route table does not name.
const (
	fnConsole   = "console"
	fnRetention = "retention"
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
}

// target is what a grant applies to.
type target int

const (
	onTable   target = iota // the DynamoDB table (and its indexes)
	onObjects               // keys under a prefix of the S3 bucket
	onBucket                // the bucket itself (listing)
	onKey                   // the token-signing KMS key
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

func bucketGrant(actions ...string) grant { return grant{On: onBucket, Actions: actions} }

func keyGrant(actions ...string) grant { return grant{On: onKey, Actions: actions} }

// Bucket layout (shared/registry): committed blobs, large manifests, and
// temporary upload tails, which a lifecycle rule expires.
const (
	blobsPrefix     = "blobs/"
	manifestsPrefix = "manifests/"
	uploadsPrefix   = "uploads/"
)

// DynamoDB action sets, as shared/store/dynamo uses them: every write is
// a (conditional) PutItem or DeleteItem, never UpdateItem or a
// transaction (DESIGN.md §2).
var (
	tableRead  = []string{"dynamodb:GetItem", "dynamodb:Query"}
	tableWrite = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"}
)

// registryGrants are what each registry function does with the table and
// bucket, read from shared/registry, shared/authz and the stores. None
// touches the signing key: they enforce the authorizer's decision and ask
// policy questions of metadata only (shared/app Function).
// s3:PutObject also covers CreateMultipartUpload, UploadPart and
// CompleteMultipartUpload; s3:GetObject covers HeadObject and the
// presigned GETs a function signs.
var registryGrants = map[string][]grant{
	// Pushes create repositories (policy lookup) and write the audit
	// trail.
	route.Manifests: {
		tableGrant(tableWrite...),
		objectGrant(manifestsPrefix, "s3:GetObject", "s3:PutObject"),
	},
	// blobs presigns blob GETs and, for a manifest fetched through the
	// blobs endpoint, reads the manifest's body.
	route.Blobs: {
		tableGrant("dynamodb:GetItem", "dynamodb:DeleteItem"),
		objectGrant(blobsPrefix, "s3:GetObject"),
		objectGrant(manifestsPrefix, "s3:GetObject"),
	},
	// A blob is written where its upload put it (blobs/<upload id>, whole
	// or multipart); tails of chunked uploads wait under uploads/.
	route.Uploads: {
		tableGrant(tableWrite...),
		objectGrant(uploadsPrefix, uploadActions...),
		objectGrant(blobsPrefix, uploadActions...),
	},
	route.Tags:      {tableGrant(tableRead...)},
	route.Referrers: {tableGrant(tableRead...)},
	route.Catalog:   {tableGrant(tableRead...)},
}

var uploadActions = []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}

// functionTable is every function the stack knows. The routed functions'
// timeouts stay under the HTTP API's 30 s integration limit. Uploads get
// more memory for CPU: they hash and base64-decode up to 10 MB a request.
func functionTable() []function {
	return []function{
		{Name: route.Base, Memory: 256, Timeout: 10 * time.Second, Grants: baseGrants()},
		{Name: route.Manifests, Memory: 256, Timeout: 15 * time.Second, Grants: registryGrants[route.Manifests]},
		{Name: route.Blobs, Memory: 256, Timeout: 10 * time.Second, Grants: registryGrants[route.Blobs]},
		{Name: route.Uploads, Memory: 1024, Timeout: 29 * time.Second, Grants: registryGrants[route.Uploads]},
		{Name: route.Tags, Memory: 256, Timeout: 10 * time.Second, Grants: registryGrants[route.Tags]},
		{Name: route.Referrers, Memory: 256, Timeout: 10 * time.Second, Grants: registryGrants[route.Referrers]},
		{Name: route.Catalog, Memory: 256, Timeout: 15 * time.Second, Grants: registryGrants[route.Catalog]},
		// The authorizer reads tokens, users, groups and policies, and
		// verifies JWTs locally with the public key, which it reads once
		// per cold start (shared/app Authorizer).
		{Name: route.Authorizer, Memory: 256, Timeout: 10 * time.Second, Later: true,
			Grants: []grant{tableGrant(tableRead...), keyGrant("kms:GetPublicKey")}},
		// The token endpoint checks credentials, audits logins and signs
		// with the private key, which never leaves KMS.
		{Name: route.Token, Memory: 256, Timeout: 10 * time.Second, Later: true,
			Grants: []grant{tableGrant("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"), keyGrant("kms:GetPublicKey", "kms:Sign")}},
		// The admin API works on metadata only (shared/admin has no blob
		// store) and, like the registry functions, never touches the key.
		{Name: route.Admin, Memory: 512, Timeout: 29 * time.Second, Later: true,
			Grants: []grant{tableGrant(tableWrite...)}},
		{Name: fnConsole, Memory: 128, Timeout: 10 * time.Second, Later: true},
		// Retention deletes images, then sweeps (s3store.Sweep lists
		// multipart uploads and objects) what nothing references.
		{Name: fnRetention, Memory: 1024, Timeout: 15 * time.Minute, Later: true,
			Grants: []grant{
				tableGrant(tableWrite...),
				objectGrant(blobsPrefix, "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"),
				objectGrant(manifestsPrefix, "s3:GetObject", "s3:DeleteObject"),
				objectGrant(uploadsPrefix, "s3:DeleteObject", "s3:AbortMultipartUpload"),
				bucketGrant("s3:ListBucket", "s3:ListBucketMultipartUploads"),
			}},
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

// usesKey reports whether f reads or signs with the token-signing key.
func (f function) usesKey() bool {
	for _, g := range f.Grants {
		if g.On == onKey {
			return true
		}
	}
	return false
}

// logicalName is f's name as a construct id ("uploads" → "Uploads").
func (f function) logicalName() string {
	return strings.ToUpper(f.Name[:1]) + f.Name[1:]
}
