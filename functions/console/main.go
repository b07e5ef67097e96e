// Command console is the Lambda function that serves the web console
// (/console, docs/console.md). Build it with "make build".
package main

import (
	"context"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/consolefn"
	"github.com/berth-registry/berth/shared/route"
)

func main() {
	h, err := consolefn.New(context.Background())
	app.Start(route.Console, h, err)
}
