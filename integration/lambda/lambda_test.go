package lambda

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-registry/berth/integration/harness"
)

// TestConformanceSuitePassesThroughLambdaMode runs the pinned OCI
// distribution-spec conformance suite against Lambda mode and requires
// every check to pass: every route through the authorizer and the
// function's bootstrap as JSON, every blob GET followed to MinIO with
// the presigned URL the blobs function signed.
func TestConformanceSuitePassesThroughLambdaMode(t *testing.T) {
	if testing.Short() {
		t.Skip("the OCI conformance suite is skipped under -short")
	}
	var redirects atomic.Int64
	host, token := harness.StartLambda(t, harness.Wrap(countRedirects(&redirects)))
	harness.Conformance(t, "http://"+host, map[string]string{
		"OCI_USERNAME": "dev/admin", "OCI_PASSWORD": token,
		"OCI_REPO1": "dev/conformance/a", "OCI_REPO2": "dev/conformance/b",
	})
	if redirects.Load() == 0 {
		t.Error("no blob GET was answered with a redirect to S3")
	}
}

// countRedirects counts the gateway's 307 answers whose Location is a
// presigned S3 URL.
func countRedirects(n *atomic.Int64) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			if strings.Contains(w.Header().Get("Location"), "X-Amz-Signature=") {
				n.Add(1)
			}
		})
	}
}

// TestDoctorPassesThroughLambdaMode runs berth doctor, the checks ops
// run after a deploy, against Lambda mode.
func TestDoctorPassesThroughLambdaMode(t *testing.T) {
	host, token := harness.StartLambda(t)
	harness.Doctor(t, "http://"+host, token)
}
