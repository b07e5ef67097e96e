// Command fill is the Lambda function that fills the pull-through cache
// (docs/pull-through.md): the blobs function, answering a pull of a blob
// a cached repository lacks, redirects the client to the upstream's own
// signed URL at once and invokes this function asynchronously
// (InvocationType Event) with the job (events/fill-job.json). One
// invocation streams the blob from the upstream into S3 as a multipart
// upload, verifies its digest, and only then records and links it, so
// the next pull is served from S3. Build it with "make build".
//
// Why its own function rather than the blobs function invoking itself:
// a fill may take minutes (a multi-GB layer), past the 29 s any routed
// function is given, and wants more memory (network throughput) than a
// redirect does; Lambda's asynchronous queue gives it two retries, and
// the claim it fills under (store.Fills) makes a retry or a duplicate
// harmless.
package main

import (
	"context"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/fillfn"
)

func main() {
	f, err := fillfn.Function(context.Background())
	var h any
	if f != nil {
		h = f.Handle
	}
	app.Start("fill", h, err)
}
