package main

import (
	"sort"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/route"
)

// wantAccess is each function's IAM access, written out independently of
// functionTable from what the code does; every function also writes its
// own log group. Only the token function (signs) and the authorizer
// (verifies) touch the signing key; shared/app loads it nowhere else.
// Retention (and the admin function, which serves the retention API)
// deletes collected blobs' objects and lists nothing; the retention
// function invokes itself to fan out.
//
// The pull-through cache: the functions that fill from upstreams
// (manifests, blobs, fill) open sealed credentials (kms:Decrypt), the
// admin function seals them (kms:Encrypt), and blobs fills small blobs
// itself and hands the rest to the fill function.
var wantAccess = map[string][]string{
	route.Manifests: {ddb("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"), s3("manifests/*", "GetObject", "PutObject"), openCredentials},
	route.Blobs: {ddb("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"), s3("blobs/*", "GetObject", "PutObject", "DeleteObject"),
		s3("manifests/*", "GetObject"), openCredentials, "lambda:InvokeFunction fn:fill"},
	route.Uploads: {ddb("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"),
		s3("uploads/*", "PutObject", "GetObject", "DeleteObject"),
		s3("blobs/*", "PutObject", "GetObject", "DeleteObject", "AbortMultipartUpload")},
	route.Tags:       {ddb("GetItem", "Query")},
	route.Referrers:  {ddb("Query")},
	route.Catalog:    {ddb("GetItem", "Query")},
	route.Authorizer: {ddb("GetItem", "Query"), verify},
	route.Token:      {ddb("GetItem", "PutItem", "Query"), verify, "kms:Sign key"},
	// admin hands runs started through the API to the retention
	// function, and reads config blobs and large manifests for image
	// details.
	route.Admin: {retentionDDB, s3("blobs/*", "GetObject", "DeleteObject"), s3("manifests/*", "GetObject"), "lambda:InvokeFunction fn:retention", "kms:Encrypt cachekey"},
	// The console reads and writes what the admin API's repository and
	// image services do, and touches no key.
	route.Console: {ddb("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"), s3("blobs/*", "GetObject"), s3("manifests/*", "GetObject")},
	fnRetention:   {retentionDDB, s3("blobs/*", "DeleteObject"), "lambda:InvokeFunction fn:retention"},
	// events reads the stream, puts events on the bus, and (Lambda's
	// on-failure destination, as the function's role) sends a failed
	// batch's description to its dead-letter queue.
	fnEvents: {access("dynamodb", "table", []string{"DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"}),
		"events:PutEvents bus",
		access("sqs", "queue:EventsDeadLetters", []string{"SendMessage", "GetQueueAttributes", "GetQueueUrl"})},
	fnFill: {ddb("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"),
		s3("blobs/*", "GetObject", "PutObject", "DeleteObject", "AbortMultipartUpload"), openCredentials},
}

const openCredentials = "kms:Decrypt cachekey"

var retentionDDB = ddb("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")

const verify = "kms:GetPublicKey key"

func ddb(actions ...string) string { return access("dynamodb", "table", actions) }

func s3(prefix string, actions ...string) string { return access("s3", "bucket/"+prefix, actions) }

func access(svc, res string, actions []string) string {
	lines := make([]string, len(actions))
	for i, a := range actions {
		lines[i] = svc + ":" + a + " " + res
	}
	return strings.Join(lines, "\n")
}

func TestEachFunctionHasExactlyItsGrants(t *testing.T) {
	_, full := stacks(t)
	labels := full.labels()
	got := map[string]map[string]bool{}
	for _, id := range full.ofType("AWS::IAM::Policy") {
		p := full.Resources[id].Properties
		for _, role := range p["Roles"].([]any) {
			name := strings.TrimPrefix(render(role, labels), "role:")
			for _, st := range statements(p["PolicyDocument"], labels) {
				if got[name] == nil {
					got[name] = map[string]bool{}
				}
				got[name][st.Effect+" "+st.Action+" "+st.Resource] = true
			}
		}
	}
	want := map[string][]string{}
	for name, lines := range wantAccess {
		want[name] = append(want[name], lines...)
	}
	// base serves the catch-all and may re-dispatch any registry route.
	for _, name := range route.RegistryFunctions {
		if name != route.Base {
			want[route.Base] = append(want[route.Base], wantAccess[name]...)
		}
	}
	for _, name := range allFunctionNames() {
		wantSet := map[string]bool{
			"Allow logs:CreateLogStream logs:" + name: true,
			"Allow logs:PutLogEvents logs:" + name:    true,
		}
		for _, block := range want[name] {
			for _, line := range strings.Split(block, "\n") {
				wantSet["Allow "+line] = true
			}
		}
		if diff := setDiff(got[name], wantSet); diff != "" {
			t.Errorf("%s IAM:\n%s", name, diff)
		}
	}
	for _, id := range full.ofType("AWS::IAM::Role") {
		r := full.Resources[id].Properties
		if r["ManagedPolicyArns"] != nil || r["Policies"] != nil {
			t.Errorf("role %s has managed or inline policies: %v %v", labels[id], r["ManagedPolicyArns"], r["Policies"])
		}
	}
}

// No identity policy allows a wildcard action or resource, front door
// stacks included (their edge function and cross-region reader roles). Resource
// policies may deny with a wildcard (the bucket's TLS-only rule); the one
// allowed wildcard is the KMS key policy's delegation to the account,
// AWS's default key policy, which makes IAM policies effective on the key.
func TestNoPolicyAllowsAWildcard(t *testing.T) {
	core, full := stacks(t)
	f := frontDoorStacks(t)
	for _, tp := range []*tpl{core, full, f.west, f.westEdge, f.east} {
		labels := tp.labels()
		for id, r := range tp.Resources {
			var docs []any
			switch r.Type {
			case "AWS::IAM::Policy", "AWS::S3::BucketPolicy":
				docs = append(docs, r.Properties["PolicyDocument"])
			case "AWS::IAM::Role":
				for _, p := range asList(r.Properties["Policies"]) {
					docs = append(docs, path(p, "PolicyDocument"))
				}
			case "AWS::KMS::Key":
				for _, st := range path(r.Properties, "KeyPolicy", "Statement").([]any) {
					root := strings.HasSuffix(render(path(st, "Principal", "AWS"), labels), ":root")
					if !(root && path(st, "Action") == "kms:*") {
						docs = append(docs, map[string]any{"Statement": []any{st}})
					}
				}
			}
			for _, doc := range docs {
				for _, st := range statements(doc, labels) {
					if st.Effect == "Allow" && (strings.Contains(st.Action, "*") || st.Resource == "*") {
						t.Errorf("%s (%s) allows %s on %s", id, r.Type, st.Action, st.Resource)
					}
				}
			}
		}
	}
}

func setDiff(got, want map[string]bool) string {
	var lines []string
	for k := range got {
		if !want[k] {
			lines = append(lines, "  unexpected: "+k)
		}
	}
	for k := range want {
		if !got[k] {
			lines = append(lines, "  missing:    "+k)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
