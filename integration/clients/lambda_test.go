package clients

import (
	"testing"

	"github.com/berth-registry/berth/integration/harness"
)

// startLambdaRegistry serves the registry in Lambda mode
// (harness.StartLambda) for the test, recording the requests it answers.
// It has no in-process stores: AddUser, Allow and MakePublic do not work.
func startLambdaRegistry(t *testing.T) *authRegistry {
	t.Helper()
	reg := &registry{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("requests the registry answered:\n%s", reg.dump())
		}
	})
	host, token := harness.StartLambda(t, harness.Wrap(reg.record))
	reg.Host, reg.Authorization = host, basicAuth(tenancy+"/admin", token)
	return &authRegistry{registry: reg, Admin: token}
}

// TestDockerThroughLambdaMode runs TestDocker's push, pull and run steps
// against Lambda mode: every request through the authorizer and the
// function bootstraps, every layer pulled from MinIO with the presigned
// URL the blobs function signed.
func TestDockerThroughLambdaMode(t *testing.T) {
	need(t, "docker", "busybox")
	testDocker(t, startLambdaRegistry(t))
}
