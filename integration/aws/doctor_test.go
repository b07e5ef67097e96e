package aws

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/shared/doctor"
)

// TestDoctorPassesOnTheAWSBackend runs berth doctor against the local
// gateway on the aws backend (dynalite + the in-process S3; neither
// checks signatures, see env_test.go): the same checks ops run after a
// deploy, with the blob GET followed to the emulated S3.
func TestDoctorPassesOnTheAWSBackend(t *testing.T) {
	e := startAWS(t, true)
	before, _ := e.stores.Meta.ListRepositories(context.Background(), "", 1000)
	rep, err := doctor.Run(context.Background(), doctor.Options{
		URL: "http://" + e.host, Username: "dev/admin", Password: e.local.AdminToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if !r.OK && !r.Skipped {
			t.Errorf("%s failed: saw %s, expected %s (fix: %s)", r.Name, r.Seen, r.Expected, r.Fix)
		}
	}
	for _, name := range []string{doctor.CheckChallenge, doctor.CheckToken, doctor.CheckBasic, doctor.CheckPushChunked,
		doctor.CheckPushStreamed, doctor.CheckManifestHead, doctor.CheckBlobGet, doctor.CheckCleanup} {
		if r, ran := rep.Result(name); !ran || !r.OK {
			t.Errorf("%s: ran %v, result %+v; want ok", name, ran, r)
		}
	}
	after, _ := e.stores.Meta.ListRepositories(context.Background(), "", 1000)
	if len(after) != len(before) {
		t.Errorf("doctor left repositories behind: before %v, after %v", before, after)
	}
}
