package auth

import (
	"testing"

	"github.com/berth-registry/berth/integration/harness"
)

// TestConformanceSuitePassesWithAuthentication runs the pinned OCI
// distribution-spec conformance suite against the registry with
// authentication on and requires every check to pass: the suite logs in
// as dev/admin and, challenged with Bearer, gets its tokens from /token
// with those Basic credentials.
func TestConformanceSuitePassesWithAuthentication(t *testing.T) {
	if testing.Short() {
		t.Skip("the OCI conformance suite is skipped under -short")
	}
	// On the embedded backend: integration/aws runs the suite with
	// authentication on the aws backend.
	r := start(t, "embedded")

	// Without credentials the suite must not get anywhere: a sanity check
	// that authentication is really on.
	if res := r.send("GET", "/v2/", nil, nil); res.Status != 401 {
		t.Fatalf("GET /v2/ without credentials: %v, want 401", res)
	}

	harness.Conformance(t, r.base, map[string]string{
		"OCI_USERNAME": "dev/admin",
		"OCI_PASSWORD": r.local.AdminToken,
		"OCI_REPO1":    "dev/conf-a",
		"OCI_REPO2":    "dev/conf-b",
	})
}
