// Command admin is the Lambda function that serves the admin API
// (/api/..., see docs/auth.md and docs/retention.md). Build it with
// "make build".
package main

import (
	"context"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/adminfn"
	"github.com/berth-registry/berth/shared/route"
)

func main() {
	h, err := adminfn.New(context.Background())
	app.Start(route.Admin, h, err)
}
