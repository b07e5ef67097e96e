package doctor_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/berth-registry/berth/shared/doctor"
)

// TestDoctorAgainstURL runs doctor against any registry, for CI to point
// at `make run` on the aws backend (emulators) or at a deployment:
//
//	BERTH_DOCTOR_URL=http://127.0.0.1:5000 BERTH_DOCTOR_USER=dev/admin \
//	BERTH_DOCTOR_PASSWORD="$(cat .berth/admin-token)" go test ./shared/doctor -run AgainstURL
//
// BERTH_DOCTOR_INSECURE=1 skips certificate verification. The run must
// pass and leave the catalog as it found it.
func TestDoctorAgainstURL(t *testing.T) {
	url := os.Getenv("BERTH_DOCTOR_URL")
	if url == "" {
		t.Skip("BERTH_DOCTOR_URL is not set: nothing to point doctor at")
	}
	opts := doctor.Options{URL: url, Username: os.Getenv("BERTH_DOCTOR_USER"),
		Password: os.Getenv("BERTH_DOCTOR_PASSWORD"), Insecure: os.Getenv("BERTH_DOCTOR_INSECURE") == "1"}
	if opts.Username == "" || opts.Password == "" {
		t.Fatal("set BERTH_DOCTOR_USER (<namespace>/<user>) and BERTH_DOCTOR_PASSWORD (its auth token) with BERTH_DOCTOR_URL")
	}
	catalog := func() []byte {
		req, err := http.NewRequest(http.MethodGet, url+"/v2/_catalog", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(opts.Username, opts.Password)
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: opts.Insecure}}}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /v2/_catalog: %d %s", res.StatusCode, b)
		}
		return b
	}
	before := catalog()
	rep, err := doctor.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_ = rep.Print(&out)
	t.Log("\n" + out.String())
	if n := rep.Failed(); n > 0 {
		t.Errorf("%d checks failed against %s", n, url)
	}
	if r, _ := rep.Result(doctor.CheckCleanup); !r.OK {
		t.Errorf("cleanup: %+v", r)
	}
	if after := catalog(); !bytes.Equal(before, after) {
		t.Errorf("catalog after the run:\n%s\nbefore:\n%s", after, before)
	}
}
