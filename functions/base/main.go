// Command base is the Lambda function that serves the registry's base
// routes (see shared/route). Build it with "make build".
package main

import (
	"context"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/registryfn"
	"github.com/berth-registry/berth/shared/route"
)

func main() {
	h, err := registryfn.New(context.Background(), route.Base, nil)
	app.Start(route.Base, h, err)
}
