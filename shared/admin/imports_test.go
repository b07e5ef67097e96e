package admin_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestAdminImportsNoAWSSDK pins the package's dependencies: the admin API
// is plain Go over the store interfaces; AWS lives in the store
// implementations and the function mains (STYLE.md).
func TestAdminImportsNoAWSSDK(t *testing.T) {
	const module = "github.com/berth-registry/berth/"
	seen := map[string]bool{}
	var walk func(path, via string)
	walk = func(path, via string) {
		if seen[path] {
			return
		}
		seen[path] = true
		if strings.HasPrefix(path, "github.com/aws/aws-sdk-go") {
			t.Errorf("shared/admin imports %s (via %s)", path, via)
			return
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
	walk(module+"shared/admin", "")
	if !seen[module+"shared/store"] || !seen[module+"shared/authz"] {
		t.Errorf("the walk missed the store and authz packages: %v", seen)
	}
}
