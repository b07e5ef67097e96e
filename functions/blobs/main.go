// Command blobs is the Lambda function that serves the registry's blobs
// routes (see shared/route). Build it with "make build".
package main

import (
	"context"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/fillfn"
	"github.com/berth-registry/berth/shared/app/registryfn"
	"github.com/berth-registry/berth/shared/route"
)

func main() {
	h, err := registryfn.New(context.Background(), route.Blobs, fillfn.Open)
	app.Start(route.Blobs, h, err)
}
