package aws

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/integration/harness"
)

// TestDoctorPassesOnTheAWSBackend runs berth doctor against the local
// gateway on the aws backend (dynalite + the in-process S3; neither
// checks signatures, see env_test.go): the same checks ops run after a
// deploy, with the blob GET followed to the emulated S3.
func TestDoctorPassesOnTheAWSBackend(t *testing.T) {
	e := startAWS(t, true)
	before, _ := e.stores.Meta.ListRepositories(context.Background(), "", 1000)
	harness.Doctor(t, "http://"+e.host, e.local.AdminToken)
	after, _ := e.stores.Meta.ListRepositories(context.Background(), "", 1000)
	if len(after) != len(before) {
		t.Errorf("doctor left repositories behind: before %v, after %v", before, after)
	}
}
