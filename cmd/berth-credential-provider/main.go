// Command berth-credential-provider is a kubelet image credential
// provider for Berth: the kubelet runs it with a CredentialProviderRequest
// on stdin holding the pod's service account token, and it answers a
// CredentialProviderResponse on stdout with a registry token that pulls
// the image (shared/credprovider, docs/keyless.md). Build it with
// "make cli"; install it in the kubelet's
// --image-credential-provider-bin-dir.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/berth-registry/berth/shared/credprovider"
)

func main() {
	for _, a := range os.Args[1:] {
		if a == "-h" || a == "--help" || a == "help" {
			fmt.Println("berth-credential-provider: a kubelet image credential provider for Berth.\n" +
				"The kubelet runs it with a CredentialProviderRequest on stdin; see docs/keyless.md.")
			return
		}
	}
	if err := credprovider.Run(context.Background(), os.Stdin, os.Stdout, credprovider.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "berth-credential-provider:", err)
		os.Exit(1)
	}
}
