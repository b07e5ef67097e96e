// Command catalog is the Lambda function that serves the registry's catalog
// routes (see shared/route). Build it with "make build".
package main

import (
	"context"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/registryfn"
	"github.com/berth-registry/berth/shared/route"
)

func main() {
	h, err := registryfn.New(context.Background(), route.Catalog, nil)
	app.Start(route.Catalog, h, err)
}
