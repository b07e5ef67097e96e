package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// put sends a request to the registry at host and fails t unless it
// answers want; it returns the response (body read and closed) and body.
func put(t *testing.T, method, url string, body []byte, contentType string, want int) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %.300s, want %d", method, url, res.StatusCode, b.Bytes(), want)
	}
	return res, b.Bytes()
}

const (
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	emptyJSON   = "application/vnd.oci.empty.v1+json"
)

// artifact is an OCI artifact manifest with the empty config (pushed to
// repo by the caller), the subject given ("" for none), and annotations
// written as raw JSON object members (so a test controls how each
// character is encoded).
func artifact(subject digest.Digest, subjectSize int, annotations string) []byte {
	m := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","artifactType":"application/vnd.example.sig",` +
		`"config":{"mediaType":"` + emptyJSON + `","digest":"` + digest.FromString("{}").String() + `","size":2},"layers":[]`
	if subject != "" {
		m += fmt.Sprintf(`,"subject":{"mediaType":"%s","digest":"%s","size":%d}`, ociManifest, subject, subjectSize)
	}
	if annotations != "" {
		m += `,"annotations":{` + annotations + `}`
	}
	return []byte(m + "}")
}

// TestReferrersArePagedUnderTheResponseLimit pushes referrers whose
// annotations make them megabytes each (seen: two with 3 MiB each made
// GET .../referrers/<subject> answer 500, over Lambda's response limit,
// so anyone with push could hide a subject's signatures). Every page
// answers 200 through the gateway's limits, the Link header leads to the
// next, and together they list every referrer — one whose annotations
// alone exceed a response listed without them.
func TestReferrersArePagedUnderTheResponseLimit(t *testing.T) {
	base := "http://" + startRegistry(t) + "/v2/dev/sigs/app"
	put(t, "POST", base+"/blobs/uploads/?digest="+digest.FromString("{}").String(), []byte("{}"), "", 201)
	subject := artifact("", 0, "")
	sd := digest.FromBytes(subject)
	put(t, "PUT", base+"/manifests/v1", subject, ociManifest, 201)

	big := strings.Repeat("s", 3<<20)     // 3 MiB, as in the report
	escaped := strings.Repeat("<", 3<<20) // 3 MiB that JSON escapes to 18
	want := []digest.Digest{}
	for i, a := range []string{big, big, escaped, "short"} {
		m := artifact(sd, len(subject), fmt.Sprintf(`"n":"%d","a":"%s"`, i, a))
		put(t, "PUT", base+"/manifests/"+digest.FromBytes(m).String(), m, ociManifest, 201)
		want = append(want, digest.FromBytes(m))
	}

	var got []digest.Digest
	url := base + "/referrers/" + sd.String()
	for pages := 0; url != ""; pages++ {
		if pages > len(want) {
			t.Fatalf("more pages than referrers: %v", got)
		}
		res, body := put(t, "GET", url, nil, "", 200)
		var index struct {
			Manifests []struct {
				Digest      digest.Digest     `json:"digest"`
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		if err := json.Unmarshal(body, &index); err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, m := range index.Manifests {
			got = append(got, m.Digest)
			if m.Annotations["n"] == "3" && m.Annotations["a"] != "short" {
				t.Errorf("referrer %s lost annotations that fit: %v", m.Digest, m.Annotations)
			}
		}
		url = ""
		if link := res.Header.Get("Link"); link != "" {
			path, _, _ := strings.Cut(strings.TrimPrefix(link, "<"), ">")
			url = strings.TrimSuffix(base, "/v2/dev/sigs/app") + path
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the pages listed %v, want every referrer %v", got, want)
	}
}
