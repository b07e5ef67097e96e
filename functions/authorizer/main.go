// Command authorizer is the API Gateway HTTP API Lambda authorizer (REQUEST,
// payload 2.0, simple responses) that runs before every route but /token:
// it authenticates the caller, decides by policy, and passes its decision
// to the function in the authorizer context (shared/authz). Build it with
// "make build".
package main

import (
	"context"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/authfn"
	"github.com/berth-registry/berth/shared/route"
)

func main() {
	h, err := authfn.Authorizer(context.Background())
	app.Start(route.Authorizer, h, err)
}
