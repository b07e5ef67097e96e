package aws

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestRepeatedReferencesAreCheckedOnce pushes a manifest that names one
// layer 20,000 times (seen: 5-7 s to accept, and three such 4 MiB
// manifests at once each answered 503 after 30 s yet were stored — each
// repeat was read and touched on its own). The push reads and touches
// each distinct blob once: a handful of DynamoDB requests, not 40,000.
func TestRepeatedReferencesAreCheckedOnce(t *testing.T) {
	e := startAWS(t, false)
	const repo = "dev/repeat/app"
	config, layer := []byte(`{"architecture":"amd64","os":"linux"}`), bytes.Repeat([]byte("l"), 1024)
	cd, ld := digest.FromBytes(config), digest.FromBytes(layer)
	for d, b := range map[digest.Digest][]byte{cd: config, ld: layer} {
		if res, body := e.do(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), b, nil); res.StatusCode != 201 {
			t.Fatalf("push blob: %d %s", res.StatusCode, body)
		}
	}
	var m bytes.Buffer
	fmt.Fprintf(&m, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[`, cd, len(config))
	for i := range 20000 {
		if i > 0 {
			m.WriteByte(',')
		}
		fmt.Fprintf(&m, `{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, ld, len(layer))
	}
	m.WriteString(`]}`)
	c := e.measure(t, "PUT", "/v2/"+repo+"/manifests/latest", m.Bytes(),
		map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, http.StatusCreated)
	t.Logf("PUT of a %d-byte manifest repeating one layer 20,000 times: %s", m.Len(), c)
	if c.DynamoReads() > 10 || c.DynamoWrites() > 20 {
		t.Errorf("the push cost %d DynamoDB reads and %d writes (%s); each distinct reference should cost one of each", c.DynamoReads(), c.DynamoWrites(), c)
	}
}
