package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// sdkActions maps the AWS SDK operations the stores call to the IAM
// actions that authorize them.
var sdkActions = map[string]string{
	"dynamodb.GetItem":           ddbGet,
	"dynamodb.Query":             ddbQuery,
	"dynamodb.PutItem":           ddbPut,
	"dynamodb.UpdateItem":        ddbUpdate,
	"dynamodb.DeleteItem":        ddbDelete,
	"dynamodb.BatchWriteItem":    ddbBatchWrite,
	"s3.GetObject":               s3Get,
	"s3.HeadObject":              s3Get,
	"s3.PutObject":               s3Put,
	"s3.CopyObject":              s3Put, // and s3:GetObject on the source
	"s3.CreateMultipartUpload":   s3Put,
	"s3.UploadPart":              s3Put,
	"s3.CompleteMultipartUpload": s3Put,
	"s3.DeleteObject":            s3Del,
	"s3.AbortMultipartUpload":    s3Abort,
}

// notDeployed are operations no deployed function performs, and why.
var notDeployed = map[string]string{
	"dynamodb.CreateTable":               "BERTH_INIT=1 only (LocalStack, emulators); the stack creates the table",
	"dynamodb.UpdateTimeToLive":          "BERTH_INIT=1 only; the stack sets TTL",
	"s3.CreateBucket":                    "BERTH_INIT=1 only; the stack creates the bucket",
	"s3.PutBucketLifecycleConfiguration": "BERTH_INIT=1 only; the stack sets the lifecycle rules",
	// backend.SweepUploads lists and aborts leftover uploads; no function
	// calls it (the lifecycle rules do that job). A function that starts
	// to needs s3:ListBucket and s3:ListBucketMultipartUploads on the
	// bucket, and these entries go.
	"s3.ListMultipartUploads": "backend.SweepUploads only, which no function calls",
	"s3.ListObjectsV2":        "backend.SweepUploads only, which no function calls",
}

// sdkCall finds `client.Op(`, `presign.PresignOp(` and
// `NewOpPaginator(` in the stores' sources.
var sdkCall = regexp.MustCompile(`(?:client|presign)\.(?:Presign)?([A-Z][A-Za-z0-9]+)\(|New([A-Z][A-Za-z0-9]+)Paginator\(`)

// The stack keeps up with the stores: every AWS operation that
// shared/store/dynamo and shared/store/s3store send is one that some
// function is granted (or one no deployed function sends, with the
// reason written down), so an operation added to a store (a Scan, a
// transaction, a listing) fails here until the stack grants it where
// it is used.
func TestEveryStoreOperationIsGrantedSomewhere(t *testing.T) {
	granted := map[string]bool{}
	for _, f := range functionTable() {
		for _, g := range f.Grants {
			for _, a := range g.Actions {
				granted[a] = true
			}
		}
	}
	found := map[string]bool{}
	for svc, dir := range map[string]string{"dynamodb": "../shared/store/dynamo", "s3": "../shared/store/s3store"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no sources in %s: %v", dir, err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range sdkCall.FindAllStringSubmatch(string(src), -1) {
				if op := m[1] + m[2]; op != "Options" { // the client's settings, no request
					found[svc+"."+op] = true
				}
			}
		}
	}
	var ops []string
	for op := range found {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		if _, ok := notDeployed[op]; ok {
			continue
		}
		action, ok := sdkActions[op]
		if !ok {
			t.Errorf("the stores call %s, which infra does not know: map it to its IAM action and grant it to the functions that use it", op)
			continue
		}
		if !granted[action] {
			t.Errorf("the stores call %s (%s), which no function is granted", op, action)
		}
	}
	for _, must := range []string{"dynamodb.GetItem", "dynamodb.UpdateItem", "dynamodb.BatchWriteItem", "s3.PutObject", "s3.UploadPart"} {
		if !found[must] {
			t.Errorf("found no %s call in the stores: the pattern no longer matches their code (found %v)", must, ops)
		}
	}
}
