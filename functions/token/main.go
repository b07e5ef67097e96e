// Command token is the Lambda function that serves the Docker token-auth
// endpoint (/token), the one route without the authorizer. Build it with
// "make build".
package main

import (
	"context"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/authfn"
	"github.com/berth-registry/berth/shared/route"
)

func main() {
	h, err := authfn.Token(context.Background())
	app.Start(route.Token, h, err)
}
