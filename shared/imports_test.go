package shared_test

import (
	"go/build"
	"strings"
	"testing"
)

// module is the import path prefix of Berth's packages.
const module = "github.com/berth-registry/berth/"

// edgeOnly are the module paths (and their packages) only the edge may
// import: the AWS SDK, aws-lambda-go's types and runtime, and the Lambda
// adapter library.
var edgeOnly = []string{"github.com/aws/aws-sdk-go", "github.com/aws/aws-lambda-go", "github.com/awslabs/aws-lambda-go-api-proxy"}

// TestDomainPackagesImportNoAWS pins the domain packages' dependencies
// (docs/architecture.md §1): they are plain Go over the store
// interfaces, with no AWS SDK and no Lambda types. AWS lives in the store implementations, shared/backend,
// the function wiring (shared/app/...), the Lambda adapter
// (shared/lambdahttp), the local gateway, and infra/. Each row also
// names packages the walk must reach, so that a walk that stopped early
// cannot pass.
func TestDomainPackagesImportNoAWS(t *testing.T) {
	for _, tc := range []struct {
		pkg     string
		reaches []string
	}{
		{"shared/oci", nil},
		{"shared/errcode", nil},
		{"shared/route", nil},
		{"shared/auth", nil},
		{"shared/authz", []string{"shared/store"}},
		{"shared/registry", []string{"shared/store", "shared/oci", "shared/errcode", "shared/content"}},
		{"shared/content", []string{"shared/store", "shared/oci"}},
		{"shared/pullthrough", []string{"shared/store", "shared/content", "shared/registry", "shared/netguard"}},
		{"shared/netguard", nil},
		{"shared/retention", []string{"shared/store"}},
		{"shared/admin", []string{"shared/store", "shared/authz", "shared/api"}},
		{"shared/api", []string{"shared/errcode", "shared/reqinfo"}},
		{"shared/reqinfo", nil},
		{"shared/scrub", []string{"shared/store"}},
		{"shared/oidc", nil},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			seen := map[string]bool{}
			var walk func(path, via string)
			walk = func(path, via string) {
				if seen[path] {
					return
				}
				seen[path] = true
				for _, e := range edgeOnly {
					if strings.HasPrefix(path, e) {
						t.Errorf("%s imports %s (via %s)", tc.pkg, path, via)
						return
					}
				}
				if !strings.HasPrefix(path, module) {
					return
				}
				p, err := build.Import(path, ".", 0)
				if err != nil {
					t.Fatalf("import %s: %v", path, err)
				}
				for _, imp := range p.Imports {
					walk(imp, path)
				}
			}
			walk(module+tc.pkg, "")
			for _, r := range tc.reaches {
				if !seen[module+r] {
					t.Errorf("the walk from %s missed %s: %v", tc.pkg, r, seen)
				}
			}
		})
	}
}
