package harness

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/shared/doctor"
)

// Doctor runs berth doctor against registryURL as dev/admin with token
// and fails the test unless every check that ran passed and the core
// ones (challenge, token, Basic, both push styles, manifest HEAD, blob
// GET, cleanup) all ran.
func Doctor(t testing.TB, registryURL, token string) {
	t.Helper()
	rep, err := doctor.Run(context.Background(), doctor.Options{URL: registryURL, Username: "dev/admin", Password: token})
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
}
