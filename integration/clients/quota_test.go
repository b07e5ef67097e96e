package clients

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A tenancy's soft quota refuses a docker push past it with DENIED,
// naming the quota and the usage (docs/usage.md): the usage the
// collection measured, shown by the admin API, plus the new layer is
// over the quota, so the layer's commit is refused and docker says why.
func TestDockerPushPastTheQuotaIsDenied(t *testing.T) {
	need(t, "docker", "busybox")
	t.Parallel()
	reg := startAuthRegistry(t, true)
	sh := newShell(t)
	dockerLogin(sh, reg.Host, "dev/admin", reg.Admin)

	pushBase(t, sh, reg.Ref("dev/quota/base", ":1"))
	if _, err := reg.local.Retention.Collect(t.Context(), time.Now()); err != nil {
		t.Fatalf("garbage collection: %v", err)
	}
	var u struct {
		Usage struct {
			Bytes int64 `json:"bytes"`
		} `json:"usage"`
		Repositories []struct {
			Name  string `json:"name"`
			Usage struct {
				Bytes       int64 `json:"bytes"`
				UniqueBytes int64 `json:"uniqueBytes"`
			} `json:"usage"`
		} `json:"repositories"`
	}
	reg.api(t, "GET", "/api/tenancies/dev/usage", nil, http.StatusOK, &u)
	if u.Usage.Bytes < 100<<10 || len(u.Repositories) != 1 || u.Repositories[0].Name != "dev/quota/base" ||
		u.Repositories[0].Usage.Bytes != u.Usage.Bytes || u.Repositories[0].Usage.UniqueBytes != u.Usage.Bytes {
		t.Fatalf("usage after the first push: %+v, want dev/quota/base's busybox layer and config", u)
	}
	quota := u.Usage.Bytes + 1000
	reg.api(t, "PUT", "/api/tenancies/dev/quota", map[string]int64{"bytes": quota}, http.StatusOK, nil)

	other := reg.Ref("dev/quota/other", ":1")
	id := file{Name: "etc/berth-run", Body: uniq(t.Name()) + "\n"}
	sh.Run("docker", "import", "--change", `CMD ["/bin/sh"]`, rootfs(t, sh, "rootfs.tar", id), other)
	removeOnCleanup(sh, other)
	out := sh.Fail("docker", "push", other)
	t.Logf("docker push answered:\n%s", out)
	if !strings.Contains(out, "denied") || !strings.Contains(out, "past its storage quota of") || !strings.Contains(out, "it stores") {
		t.Errorf("docker push past the quota said:\n%s\nwant DENIED naming the quota and the usage", out)
	}
	reg.api(t, "HEAD", "/v2/dev/quota/other/manifests/1", nil, http.StatusNotFound, nil) // nothing stored
}

// api calls the admin API as dev/admin and decodes the answer into out,
// failing unless the status is want.
func (r *authRegistry) api(t *testing.T, method, path string, in any, want int, out any) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		must(t, json.NewEncoder(&body).Encode(in))
	}
	req, err := http.NewRequest(method, "http://"+r.Host+path, &body)
	must(t, err)
	req.Header.Set("Authorization", basicAuth("dev/admin", r.Admin))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d", method, path, res.StatusCode, want)
	}
	if out != nil {
		must(t, json.NewDecoder(res.Body).Decode(out))
	}
}
