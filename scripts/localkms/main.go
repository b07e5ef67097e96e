// Command local-kms serves local-kms (github.com/nsmithuk/local-kms, a
// KMS API emulator) on a 127.0.0.1 address: its own main listens on every
// interface. Lambda mode's token and authorizer functions sign and verify
// registry tokens through it (docs/lambda-mode.md).
//
//	local-kms -addr 127.0.0.1:0 -data DIR
//
// It prints "local-kms on http://HOST:PORT" once it listens. This is its
// own module, so that the registry's go.mod does not carry local-kms's
// dependencies; scripts/ci-emulators.sh builds it.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"

	kms "github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	dir := flag.String("data", "", "directory for the key database (required)")
	region := flag.String("region", "us-east-1", "the region in key ARNs")
	flag.Parse()
	if *dir == "" {
		log.Fatal("local-kms: -data is required")
	}
	config.AWSRegion, config.AWSAccountId, config.DatabasePath = *region, "111122223333", *dir
	db := data.NewDatabase(*dir)
	defer db.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("local-kms on http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kms.HandleRequest(w, r, db)
	})))
}
