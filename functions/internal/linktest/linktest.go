// Package linktest pins what a function's bootstrap links: each
// functions/<name>/main_test.go lists, with [Check], the packages its
// binary must not link (and some it must, so a walk that found nothing
// cannot pass). The list is `go list -deps` of the function, for the
// platform and tags `make build` uses (linux/arm64, lambda.norpc).
// Imported by tests only.
package linktest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/berth-registry/berth/"

// Every function's bootstrap links none of these: the local gateway and
// its composition, Lambda mode and its emulators, the embedded store,
// the CLI's packages, and the SDK's credential chain (a function reads
// its credentials from Lambda's environment: backend.LambdaSDK), and the
// SDK's KMS client (the functions that use KMS call it through
// shared/awscall: shared/store/kmskey).
var Every = []string{
	module + "shared/gateway", module + "shared/inprocess", module + "shared/lambdamode",
	module + "shared/emulator", module + "shared/store/local", "go.etcd.io/bbolt",
	module + "shared/doctor", module + "shared/push", module + "shared/proxy", module + "shared/credprovider",
	"github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/service/sts",
	"github.com/aws/aws-sdk-go-v2/service/sso", "github.com/aws/aws-sdk-go-v2/service/ssooidc",
	"github.com/aws/aws-sdk-go-v2/service/signin", "github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
	"github.com/aws/aws-sdk-go-v2/service/kms",
}

// Registry is what a registry function (base, manifests, blobs,
// uploads, tags, referrers, catalog) links none of, beyond Every: the
// admin API, retention (its service, API and dispatcher to Lambda), the
// token-signing key (KMS) and its wiring, and the SDK's KMS and Lambda
// clients (the functions that fill call both through shared/awscall).
var Registry = slices.Concat(Every, []string{
	module + "shared/admin", module + "shared/retention", module + "shared/scrub",
	module + "shared/app/adminfn", module + "shared/app/retentionfn", module + "shared/app/authfn",
	module + "shared/store/kmskey", "github.com/aws/aws-sdk-go-v2/service/lambda",
})

// NoKMS is what the functions that never touch the signing key (all but
// token and authorizer) link none of.
var NoKMS = []string{module + "shared/app/authfn", module + "shared/store/kmskey"}

// Deps returns the packages the function in the working directory
// links, as `make build` builds it.
func Deps(t testing.TB) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to list the function's packages: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-deps", "-tags", "lambda.norpc", ".")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	return strings.Fields(string(out))
}

// Check fails t for each package of deps the function's bootstrap links
// (a path, or a path prefix ending in "/..."), and for each of reaches it
// does not.
func Check(t *testing.T, forbidden, reaches []string) {
	t.Helper()
	deps := Deps(t)
	has := map[string]bool{}
	for _, d := range deps {
		has[d] = true
	}
	for _, f := range forbidden {
		for _, d := range deps {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("the bootstrap links %s", d)
			}
		}
	}
	for _, r := range reaches {
		if !has[r] {
			t.Errorf("the bootstrap does not link %s: is the list of its packages complete? (%d packages)", r, len(deps))
		}
	}
}

// CheckRegistry is Check for a registry function: it links the registry
// and the Lambda adapter over DynamoDB and S3, and nothing of Registry.
func CheckRegistry(t *testing.T) {
	t.Helper()
	checkRegistry(t, Registry)
}

// CheckFilling is CheckRegistry for the functions that fill the
// pull-through cache (manifests, blobs): they also link the cache's
// wiring, which opens upstream credentials (kms:Decrypt) and hands long
// fills to the fill function (lambda:Invoke) through shared/awscall, and
// still nothing of Registry: neither the SDK's KMS client nor its
// Lambda client (over a megabyte of bootstrap, and package init).
func CheckFilling(t *testing.T) {
	t.Helper()
	checkRegistry(t, Registry, module+"shared/app/fillfn", module+"shared/awscall")
}

func checkRegistry(t *testing.T, forbidden []string, reaches ...string) {
	t.Helper()
	Check(t, forbidden, append([]string{
		module + "shared/registry", module + "shared/lambdahttp",
		"github.com/aws/aws-sdk-go-v2/service/dynamodb", "github.com/aws/aws-sdk-go-v2/service/s3",
	}, reaches...))
}
