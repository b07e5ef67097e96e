package auth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/opencontainers/go-digest"
)

const manifestType = "application/vnd.oci.image.manifest.v1+json"

// image is a one-layer OCI image: its blobs and manifest.
type image struct {
	config, layer   []byte
	configD, layerD digest.Digest
	manifest        []byte
	digest          digest.Digest
}

// newImage makes an image whose content is unique to note.
func newImage(note string) image {
	var im image
	im.config = []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Labels":{"note":%q}}}`, note))
	im.layer = []byte("layer bytes of " + note)
	im.configD, im.layerD = digest.FromBytes(im.config), digest.FromBytes(im.layer)
	im.manifest = manifestFor(im.configD, len(im.config), im.layerD, len(im.layer), note)
	im.digest = digest.FromBytes(im.manifest)
	return im
}

// manifestFor is an image manifest over a config and one layer.
func manifestFor(config digest.Digest, configSize int, layer digest.Digest, layerSize int, note string) []byte {
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     manifestType,
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": configSize},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layerSize}},
		"annotations":   map[string]string{"note": note},
	}
	b, _ := json.Marshal(m)
	return b
}

// pushBlob uploads a blob to repo in one POST (201 expected).
func (c client) pushBlob(repo string, data []byte) digest.Digest {
	c.r.t.Helper()
	d := digest.FromBytes(data)
	res := c.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+url.QueryEscape(d.String()), data,
		http.Header{"Content-Type": {"application/octet-stream"}})
	if res.Status != http.StatusCreated {
		c.r.t.Fatalf("push blob to %s as %s: %v", repo, c.who.login, res)
	}
	return d
}

// putManifest PUTs a manifest under ref (tag or digest).
func (c client) putManifest(repo, ref string, body []byte) *response {
	c.r.t.Helper()
	return c.do("PUT", "/v2/"+repo+"/manifests/"+ref, body, http.Header{"Content-Type": {manifestType}})
}

// pushImage pushes an image's blobs and manifest, tagged tag (201s
// expected).
func (c client) pushImage(repo, tag string, im image) {
	c.r.t.Helper()
	c.pushBlob(repo, im.config)
	c.pushBlob(repo, im.layer)
	if res := c.putManifest(repo, tag, im.manifest); res.Status != http.StatusCreated {
		c.r.t.Fatalf("push manifest %s:%s as %s: %v", repo, tag, c.who.login, res)
	}
}
