package metrics

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/route"
)

// TestTableIsDocumented holds Units and Dimensions to docs/metrics.md's
// table, both ways.
func TestTableIsDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		unit, dims := strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3])
		if !strings.HasPrefix(name, "berth-") {
			documented[name] = true
		} else {
			continue
		}
		if Units[name] != unit {
			t.Errorf("%s: documented unit %q, code %q", name, unit, Units[name])
		}
		var want []string
		if dims != "(none)" {
			for _, d := range strings.Split(dims, ",") {
				want = append(want, strings.TrimSpace(d))
			}
		}
		if !slices.Equal(Dimensions[name], want) && !(len(want) == 0 && len(Dimensions[name]) == 0) {
			t.Errorf("%s: documented dimensions %v, code %v", name, want, Dimensions[name])
		}
	}
	for name := range Units {
		if !documented[name] {
			t.Errorf("metric %s is not in docs/metrics.md", name)
		}
	}
	if len(documented) != len(Units) {
		t.Errorf("docs/metrics.md documents %d metrics, the code has %d", len(documented), len(Units))
	}
}

// TestHandlerLines: a request through Handler makes one line that
// parses as EMF, with the route's shape, and the registry's tenancy
// metrics where they apply.
func TestHandlerLines(t *testing.T) {
	var buf bytes.Buffer
	em := New(&buf, "Berth/test")
	for _, c := range []struct {
		method, path, function string
		status                 int
		body                   string
		want                   map[string]float64
		route                  string
	}{
		{"PUT", "/v2/dev/team/app/manifests/v1", route.Manifests, 201, "", map[string]float64{Requests: 1, Errors: 0, Pushes: 1}, "PUT /v2/{name}/manifests/{ref}"},
		{"GET", "/v2/dev/app/manifests/v1", route.Manifests, 200, "", map[string]float64{Requests: 1, Pulls: 1}, "GET /v2/{name}/manifests/{ref}"},
		{"HEAD", "/v2/dev/app/manifests/v1", route.Manifests, 200, "", map[string]float64{Requests: 1}, "HEAD /v2/{name}/manifests/{ref}"},
		{"PATCH", "/v2/dev/app/blobs/uploads/0123", route.Uploads, 202, "12345", map[string]float64{BytesUploaded: 5}, "PATCH /v2/{name}/blobs/uploads/{id}"},
		{"GET", "/v2/dev/app/tags/list", route.Tags, 500, "", map[string]float64{Errors: 1}, "GET /v2/{name}/tags/list"},
		{"POST", "/api/repositories", route.Admin, 201, "", map[string]float64{Requests: 1}, "POST /api/{proxy+}"},
	} {
		buf.Reset()
		h := Handler(em, c.function, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(c.status) }))
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		h.ServeHTTP(httptest.NewRecorder(), req)
		lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
		if len(lines) != 1 {
			t.Fatalf("%s %s: %d lines", c.method, c.path, len(lines))
		}
		samples, err := Parse(lines[0])
		if err != nil {
			t.Fatalf("%s %s: %v in %s", c.method, c.path, err, lines[0])
		}
		got := map[string]float64{}
		for _, s := range samples {
			got[s.Name] = s.Value
			if s.Dims["Route"] != "" && s.Dims["Route"] != c.route {
				t.Errorf("%s %s: route %q, want %q", c.method, c.path, s.Dims["Route"], c.route)
			}
			if s.Dims["Tenancy"] != "" && s.Dims["Tenancy"] != "dev" {
				t.Errorf("%s %s: tenancy %q", c.method, c.path, s.Dims["Tenancy"])
			}
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s %s: %s = %v, want %v (line %s)", c.method, c.path, k, got[k], v, lines[0])
			}
		}
		if c.function != route.Manifests && (got[Pulls] != 0 || got[Pushes] != 0) {
			t.Errorf("%s %s counted a pull or push", c.method, c.path)
		}
	}
}

// TestParseRefusesWhatCloudWatchWouldNot: the checks a test relies on
// do fail.
func TestParseRefusesWhatCloudWatchWouldNot(t *testing.T) {
	for _, bad := range []string{
		`{"Requests":1}`,
		`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"B","Dimensions":[["Function","Route"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Requests":1,"Function":"x"}`,
		`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"B","Dimensions":[["Tenancy"]],"Metrics":[{"Name":"Pulls","Unit":"Bytes"}]}]},"Pulls":1,"Tenancy":"x"}`,
		`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"B","Dimensions":[["Tenancy"]],"Metrics":[{"Name":"Pulls","Unit":"Count"}]}]},"Pulls":"1","Tenancy":"x"}`,
		`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"B","Dimensions":[["Tenancy"]],"Metrics":[{"Name":"Nope","Unit":"Count"}]}]},"Nope":1,"Tenancy":"x"}`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse accepted %s", bad)
		}
	}
}
