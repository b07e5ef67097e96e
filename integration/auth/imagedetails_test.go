package auth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// builtImage is a two-layer image whose config records a build history
// with an empty-layer step between the layers, as docker build writes.
type builtImage struct {
	config, base, app []byte
	manifest          []byte
	digest            digest.Digest
}

func newBuiltImage(arch string) builtImage {
	im := builtImage{base: []byte("base layer for " + arch), app: []byte("the app layer, longer, for " + arch)}
	cfg := map[string]any{
		"created": "2026-01-02T03:04:05Z", "architecture": arch, "os": "linux",
		"config": map[string]any{"Labels": map[string]string{"org.opencontainers.image.source": "https://example.com/app"}, "Cmd": []string{"/app"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest.FromBytes(im.base).String(), digest.FromBytes(im.app).String()}},
		"history": []map[string]any{
			{"created": "2026-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:base in /"},
			{"created": "2026-01-02T00:00:00Z", "created_by": "ENV APP=1", "empty_layer": true},
			{"created": "2026-01-02T03:04:05Z", "created_by": "RUN make install # buildkit", "comment": "buildkit.dockerfile.v0"},
		},
	}
	im.config, _ = json.Marshal(cfg)
	m := map[string]any{
		"schemaVersion": 2, "mediaType": manifestType,
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest.FromBytes(im.config), "size": len(im.config)},
		"layers": []any{
			map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest.FromBytes(im.base), "size": len(im.base)},
			map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest.FromBytes(im.app), "size": len(im.app)},
		},
	}
	im.manifest, _ = json.Marshal(m)
	im.digest = digest.FromBytes(im.manifest)
	return im
}

func (im builtImage) size() int64 { return int64(len(im.config) + len(im.base) + len(im.app)) }

// imageView is the part of the API's image summary the tests check.
type imageView struct {
	Digest     digest.Digest
	ImageSize  int64
	PushedBy   string
	Pulls      int64
	LastPulled time.Time
	Tags       []string
}

// apiJSON GETs an /api path as c, requires want, and decodes the body
// into v.
func (c client) apiJSON(path string, want int, v any) *response {
	c.r.t.Helper()
	res := c.do("GET", path, nil, nil)
	if res.Status != want {
		c.r.t.Fatalf("GET %s as %s: %v, want %d", path, c.who.login, res, want)
	}
	if v != nil {
		if err := json.Unmarshal(res.Body, v); err != nil {
			c.r.t.Fatalf("GET %s: %v", path, err)
		}
	}
	return res
}

// The console's image pages read what the API lists: image size as
// config + layers (an index: its children's sum), layers with sizes and
// the history line that made each, pusher, pulls and last pull for a
// repository's images in one call, and repositories filtered by name.
func TestImageDetailsAPI(t *testing.T) {
	onBackends(t, func(t *testing.T, backend string) {
		r := start(t, backend)
		pusher := client{r, r.as("dev/manager"), bearerMode}
		reader := client{r, r.as("dev/reader"), basicMode}
		amd, arm := newBuiltImage("amd64"), newBuiltImage("arm64")
		for tag, im := range map[string]builtImage{"v1": amd, "v1-arm": arm} {
			for _, b := range [][]byte{im.config, im.base, im.app} {
				pusher.pushBlob("dev/app", b)
			}
			if res := pusher.putManifest("dev/app", tag, im.manifest); res.Status != http.StatusCreated {
				t.Fatalf("push %s: %v", tag, res)
			}
		}
		index, _ := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
			"manifests": []any{
				map[string]any{"mediaType": manifestType, "digest": amd.digest, "size": len(amd.manifest), "platform": map[string]string{"os": "linux", "architecture": "amd64"}},
				map[string]any{"mediaType": manifestType, "digest": arm.digest, "size": len(arm.manifest), "platform": map[string]string{"os": "linux", "architecture": "arm64", "variant": "v8"}},
			},
		})
		res := pusher.do("PUT", "/v2/dev/app/manifests/multi", index, http.Header{"Content-Type": {"application/vnd.oci.image.index.v1+json"}})
		if res.Status != http.StatusCreated {
			t.Fatalf("push index: %v", res)
		}
		indexD := digest.FromBytes(index)
		// Two pulls of v1 (GETs count, a HEAD does not).
		for _, m := range []string{"GET", "GET", "HEAD"} {
			if res := reader.do(m, "/v2/dev/app/manifests/v1", nil, http.Header{"Accept": {manifestType}}); res.Status != http.StatusOK {
				t.Fatalf("%s v1: %v", m, res)
			}
		}

		// One call lists every image with its size, pusher and pulls.
		var page struct {
			Images []imageView
			Next   digest.Digest
		}
		reader.apiJSON("/api/images?repository=dev/app", 200, &page)
		byDigest := map[digest.Digest]imageView{}
		for _, im := range page.Images {
			byDigest[im.Digest] = im
		}
		if len(byDigest) != 3 || page.Next != "" {
			t.Fatalf("images: %+v, want 3 on one page", page)
		}
		v1 := byDigest[amd.digest]
		if v1.ImageSize != amd.size() || v1.PushedBy != "dev/manager" || v1.Pulls != 2 || v1.LastPulled.IsZero() || !slices.Equal(v1.Tags, []string{"v1"}) {
			t.Errorf("v1 = %+v, want size %d, pushed by dev/manager, 2 pulls, tag v1", v1, amd.size())
		}
		if ix := byDigest[indexD]; ix.ImageSize != amd.size()+arm.size() || ix.Pulls != 0 || !ix.LastPulled.IsZero() {
			t.Errorf("index = %+v, want size %d (its children's), never pulled", ix, amd.size()+arm.size())
		}
		// Paging: one image a page, three pages, none twice.
		var seen []digest.Digest
		for last := ""; ; {
			var p struct {
				Images []imageView
				Next   string
			}
			reader.apiJSON("/api/images?repository=dev/app&n=1&last="+url.QueryEscape(last), 200, &p)
			for _, im := range p.Images {
				seen = append(seen, im.Digest)
			}
			if p.Next == "" {
				break
			}
			last = p.Next
		}
		if len(seen) != 3 || !slices.IsSorted(seen) {
			t.Errorf("paged images %v, want 3 in digest order", seen)
		}

		// An image's layers carry their size and the step that made them.
		var det struct {
			ImageSize int64
			PushedBy  string
			Config    struct {
				Read         bool
				Architecture string
				Labels       map[string]string
			}
			Layers []struct {
				Digest    digest.Digest
				Size      int64
				CreatedBy string
			}
			History []struct {
				CreatedBy  string
				EmptyLayer bool
			}
		}
		reader.apiJSON("/api/images/dev/app@"+amd.digest.String(), 200, &det)
		if !det.Config.Read || det.Config.Architecture != "amd64" || det.Config.Labels["org.opencontainers.image.source"] != "https://example.com/app" {
			t.Errorf("config = %+v, want read, amd64, the source label", det.Config)
		}
		if len(det.Layers) != 2 || det.Layers[0].Size != int64(len(amd.base)) || det.Layers[1].Size != int64(len(amd.app)) ||
			det.Layers[0].CreatedBy != "/bin/sh -c #(nop) ADD file:base in /" || det.Layers[1].CreatedBy != "RUN make install # buildkit" {
			t.Errorf("layers = %+v, want base and app with their sizes and steps (the ENV step made no layer)", det.Layers)
		}
		if len(det.History) != 3 || !det.History[1].EmptyLayer || det.ImageSize != amd.size() || det.PushedBy != "dev/manager" {
			t.Errorf("details = %+v", det)
		}
		var idx struct {
			Platforms []struct {
				Digest    digest.Digest
				Platform  string
				ImageSize int64
			}
		}
		reader.apiJSON("/api/images/dev/app@"+indexD.String(), 200, &idx)
		if len(idx.Platforms) != 2 || idx.Platforms[0].Platform != "linux/amd64" || idx.Platforms[1].Platform != "linux/arm64/v8" ||
			idx.Platforms[1].ImageSize != arm.size() || idx.Platforms[1].Digest != arm.digest {
			t.Errorf("platforms = %+v", idx.Platforms)
		}
		nobody := client{r, r.as("dev/nobody"), basicMode}
		if res := nobody.apiJSON("/api/images?repository=dev/app", 403, nil); res.ErrorCode() != "DENIED" {
			t.Errorf("a user without read lists images: %v", res)
		}
		if res := (client{r, r.as("other/root"), basicMode}).apiJSON("/api/images/dev/app@"+amd.digest.String(), 404, nil); res.ErrorCode() != "NAME_UNKNOWN" {
			t.Errorf("another tenancy reads a private image: %v", res)
		}

		// Repositories by name: a prefix after the tenancy, a substring,
		// paged, and with their images' activity summed.
		admin := r.admin()
		for _, name := range []string{"dev/team", "dev/team/a", "dev/team/b", "dev/teamx", "dev/web"} {
			if res := admin.do("POST", "/api/repositories", []byte(`{"name":"`+name+`"}`), nil); res.Status != http.StatusCreated {
				t.Fatalf("create %s: %v", name, res)
			}
		}
		names := func(q string) []string {
			var out []string
			for last := ""; ; {
				var p struct {
					Repositories []struct{ Name string }
					Next         string
				}
				admin.apiJSON("/api/repositories?n=2&"+q+"&last="+url.QueryEscape(last), 200, &p)
				for _, x := range p.Repositories {
					out = append(out, x.Name)
				}
				if p.Next == "" {
					return out
				}
				last = p.Next
			}
		}
		for q, want := range map[string][]string{
			"prefix=team/":        {"dev/team/a", "dev/team/b"},
			"prefix=team":         {"dev/team", "dev/team/a", "dev/team/b", "dev/teamx"},
			"contains=eam/":       {"dev/team/a", "dev/team/b"},
			"contains=b":          {"dev/team/b", "dev/web"},
			"prefix=t&contains=x": {"dev/teamx"},
			"prefix=zzz":          nil,
		} {
			if got := names(q); !slices.Equal(got, want) {
				t.Errorf("repositories?%s = %v, want %v", q, got, want)
			}
		}
		if res := admin.apiJSON("/api/repositories?prefix=Team", 400, nil); res.ErrorCode() != "INVALID" {
			t.Errorf("an upper-case prefix: %v", res)
		}
		var act struct {
			Repositories []struct {
				Name     string
				Activity struct {
					Images, Tags int
					Pulls        int64
					LastPulled   time.Time
				}
			}
		}
		admin.apiJSON("/api/repositories?prefix=app&activity=true", 200, &act)
		if len(act.Repositories) != 1 {
			t.Fatalf("activity: %+v", act)
		}
		if a := act.Repositories[0].Activity; a.Images != 3 || a.Tags != 3 || a.Pulls != 2 || a.LastPulled.IsZero() {
			t.Errorf("dev/app activity = %+v, want 3 images, 3 tags, 2 pulls", a)
		}
	})
}
