package retention_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestRetentionImportsNoAWSSDK pins the package's dependencies: rules,
// runs and the collector are plain Go over the store interfaces; the
// Lambda self-invocation lives in functions/retention (STYLE.md).
func TestRetentionImportsNoAWSSDK(t *testing.T) {
	const module = "github.com/berth-registry/berth/"
	seen := map[string]bool{}
	var walk func(path, via string)
	walk = func(path, via string) {
		if seen[path] {
			return
		}
		seen[path] = true
		if strings.HasPrefix(path, "github.com/aws/aws-sdk-go") {
			t.Errorf("shared/retention imports %s (via %s)", path, via)
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
	walk(module+"shared/retention", "")
	if !seen[module+"shared/store"] {
		t.Errorf("the walk missed the store package: %v", seen)
	}
}
