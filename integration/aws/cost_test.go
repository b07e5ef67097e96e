package aws

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/authfn"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/route"
)

// budget is the most a request may cost; -1 means not budgeted.
type budget struct{ reads, writes, s3 int }

var unbudgeted = budget{-1, -1, -1}

// measure runs one request through the gateway and returns what it cost
// in DynamoDB and S3 requests (the authorizer's included).
func (e *env) measure(t *testing.T, method, path string, body []byte, h map[string]string, wantStatus int) backend.Count {
	t.Helper()
	c, _ := e.measureRes(t, method, path, body, h, wantStatus)
	return c
}

// measureRes is measure, returning the response too.
func (e *env) measureRes(t *testing.T, method, path string, body []byte, h map[string]string, wantStatus int) (backend.Count, *http.Response) {
	t.Helper()
	before := e.stores.Calls.Snapshot()
	res, b := e.do(t, method, path, body, h)
	if res.StatusCode != wantStatus {
		t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, wantStatus)
	}
	return e.stores.Calls.Snapshot().Since(before), res
}

// bearer gets a registry token for scope with the admin's Basic
// credentials, as docker does after a 401.
func (e *env) bearer(t *testing.T, scope string, more ...string) string {
	t.Helper()
	q := url.Values{"service": {"berth"}, "scope": append([]string{scope}, more...)}
	req, _ := http.NewRequest("GET", e.url("/token?"+q.Encode()), nil)
	req.SetBasicAuth("dev/admin", e.local.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("GET /token: %d, %v", res.StatusCode, err)
	}
	return "Bearer " + tok.Token
}

// TestCostBudgets holds each registry operation on the aws backend, with
// a Bearer token through the gateway (authorizer included), to the
// issue's budget of DynamoDB and S3 requests, and logs every measured
// count (docs/cost.md is written from them).
func TestCostBudgets(t *testing.T) {
	e := startAWS(t, true)
	repo := "dev/cost/app"
	auth := map[string]string{"Authorization": e.bearer(t, "repository:"+repo+":pull,push")}
	with := func(h map[string]string) map[string]string {
		out := map[string]string{"Authorization": auth["Authorization"]}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	var table []string
	check := func(what string, c backend.Count, b budget) {
		t.Helper()
		table = append(table, fmt.Sprintf("| %s | %d | %d | %d | %.1f | %.1f | %s |", what,
			c.DynamoReads(), c.DynamoWrites(), c.S3(), c.ReadUnits, c.WriteUnits, c))
		if b.reads >= 0 && (c.DynamoReads() > b.reads || c.DynamoWrites() > b.writes || c.S3() > b.s3) {
			t.Errorf("%s cost %d reads, %d writes, %d S3 requests (%s); budget %d, %d, %d",
				what, c.DynamoReads(), c.DynamoWrites(), c.S3(), c, b.reads, b.writes, b.s3)
		}
	}
	patch := budget{reads: 1, writes: 1, s3: 2}

	// A chunked upload (regctl): every case of the tail buffering.
	c, res := e.measureRes(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, auth, http.StatusAccepted)
	check("POST upload (new repository)", c, unbudgeted)
	loc := res.Header.Get("Location")
	blob := randBytes(11*mib+5, 42)
	off := 0
	chunk := func(what string, n int) {
		h := with(map[string]string{"Content-Range": fmt.Sprintf("%d-%d", off, off+n-1)})
		check(what, e.measure(t, "PATCH", loc, blob[off:off+n], h, http.StatusAccepted), patch)
		off += n
	}
	chunk("PATCH chunk: first, 1 MiB → tail (and multipart begun)", 1*mib)
	chunk("PATCH chunk: 1 MiB onto a tail → tail", 1*mib)
	chunk("PATCH chunk: 3 MiB onto a tail → part", 3*mib)
	chunk("PATCH chunk: 4 MiB, no tail → tail", 4*mib)
	chunk("PATCH chunk: 2 MiB onto a tail → part", 2*mib)
	d := digest.FromBytes(blob)
	check("PUT commit (chunked, 5 B in the PUT)", e.measure(t, "PUT", loc+"?digest="+d.String(), blob[off:],
		with(map[string]string{"Content-Range": fmt.Sprintf("%d-%d", off, len(blob)-1)}), http.StatusCreated), unbudgeted)

	// docker's upload: HEAD (missing), POST, one streamed PATCH, PUT.
	layer := randBytes(2*mib, 43)
	ld := digest.FromBytes(layer)
	check("HEAD blob, missing (pusher's check; falls back to manifests)", e.measure(t, "HEAD", "/v2/"+repo+"/blobs/"+ld.String(), nil, auth, http.StatusNotFound), unbudgeted)
	c, res = e.measureRes(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, auth, http.StatusAccepted)
	check("POST upload", c, unbudgeted)
	dloc := res.Header.Get("Location")
	check("PATCH streamed (docker), 2 MiB", e.measure(t, "PATCH", dloc, layer, auth, http.StatusAccepted), patch)
	check("PUT commit (streamed)", e.measure(t, "PUT", dloc+"?digest="+ld.String(), nil, auth, http.StatusCreated), unbudgeted)
	// A blob HEAD touches the link for garbage collection: one
	// conditional UpdateItem that returns it, instead of a GetItem.
	check("HEAD blob (pusher's existence check)", e.measure(t, "HEAD", "/v2/"+repo+"/blobs/"+ld.String(), nil, auth, http.StatusOK), budget{0, 1, 0})
	config := []byte(`{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cd := digest.FromBytes(config)
	check("POST ?digest= (monolithic config)", e.measure(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+cd.String(), config, auth, http.StatusCreated), unbudgeted)

	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d},`+
		`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`,
		cd, len(config), d, len(blob), ld, len(layer))
	md := digest.FromString(manifest)
	check("PUT manifest by tag (2 layers)", e.measure(t, "PUT", "/v2/"+repo+"/manifests/latest", []byte(manifest),
		with(map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}), http.StatusCreated), unbudgeted)

	check("HEAD manifest by tag", e.measure(t, "HEAD", "/v2/"+repo+"/manifests/latest", nil, auth, http.StatusOK), budget{1, 0, 0})
	check("HEAD manifest by digest", e.measure(t, "HEAD", "/v2/"+repo+"/manifests/"+md.String(), nil, auth, http.StatusOK), budget{1, 0, 0})
	check("GET manifest by tag", e.measure(t, "GET", "/v2/"+repo+"/manifests/latest", nil, auth, http.StatusOK), budget{2, 1, 0})
	check("GET manifest by digest", e.measure(t, "GET", "/v2/"+repo+"/manifests/"+md.String(), nil, auth, http.StatusOK), budget{1, 1, 0})
	check("GET blob (307 to S3)", e.measure(t, "GET", "/v2/"+repo+"/blobs/"+d.String(), nil, auth, http.StatusTemporaryRedirect), budget{1, 0, 0})
	check("HEAD blob", e.measure(t, "HEAD", "/v2/"+repo+"/blobs/"+d.String(), nil, auth, http.StatusOK), budget{0, 1, 0})
	check("GET tags/list", e.measure(t, "GET", "/v2/"+repo+"/tags/list", nil, auth, http.StatusOK), unbudgeted)
	mounted := "dev/cost/mounted"
	mauth := map[string]string{"Authorization": e.bearer(t, "repository:"+mounted+":pull,push", "repository:"+repo+":pull")}
	e.measure(t, "POST", "/v2/"+mounted+"/blobs/uploads/", nil, mauth, http.StatusAccepted) // creates the repository
	check("POST mount (from another repository)", e.measure(t, "POST", "/v2/"+mounted+"/blobs/uploads/?mount="+d.String()+"&from="+repo, nil, mauth, http.StatusCreated), unbudgeted)

	// The authorizer alone, on the same stores: a Bearer token is
	// verified without the table; Basic reads it, then its cache.
	env := app.Env{Config: e.cfg, Log: slog.New(slog.DiscardHandler), Clock: e.local.Clock}
	a, err := authfn.New(t.Context(), env, authfn.Stores{IDs: e.stores.IDs, Repos: e.stores.Meta})
	if err != nil {
		t.Fatal(err)
	}
	decide := func(what, authorization string, b budget) {
		t.Helper()
		m, ok := route.Find("GET", "/v2/"+repo+"/manifests/latest")
		if !ok {
			t.Fatal("no route for a manifest GET")
		}
		before := e.stores.Calls.Snapshot()
		dec, err := a.Authorizer.Decide(t.Context(), authz.Request{Method: "GET", Path: "/v2/" + repo + "/manifests/latest", Authorization: authorization, Match: m})
		if err != nil || !dec.Allow {
			t.Fatalf("%s: decision %+v, %v; want allowed", what, dec, err)
		}
		check(what, e.stores.Calls.Snapshot().Since(before), b)
	}
	basic := "Basic " + basicAuth("dev/admin", e.local.AdminToken)
	decide("authorizer, Bearer token", auth["Authorization"], budget{0, 0, 0})
	decide("authorizer, Basic auth token (cold)", basic, unbudgeted)
	decide("authorizer, Basic auth token (warm)", basic, budget{0, 0, 0})

	t.Logf("measured per request (aws backend, dynalite + gofakes3):\n"+
		"| request | DynamoDB reads | DynamoDB writes | S3 requests | RCU | WCU | calls |\n|---|---|---|---|---|---|---|\n%s",
		strings.Join(table, "\n"))
}

func basicAuth(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// TestCostOfAPullAndAPush measures a whole image push and pull with
// go-containerregistry (token auth, as docker does it) through the
// gateway: HTTP requests (each an API Gateway request, and but for
// /token an authorizer and a function invocation), DynamoDB and S3
// requests by the functions, and GETs of presigned URLs by the client.
// docs/cost.md prices these.
func TestCostOfAPullAndAPush(t *testing.T) {
	e := startAWS(t, true)
	kc := authn.FromConfig(authn.AuthConfig{Username: "dev/admin", Password: e.local.AdminToken})
	img := randomImage(t, 7, 3) // config + 3 layers
	r, err := name.NewTag(e.host+"/dev/cost/img:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	type snap struct {
		req, tok, pre int64
		c             backend.Count
	}
	take := func() snap {
		return snap{e.requests.Load(), e.tokenRequests.Load(), e.presigned.Load(), e.stores.Calls.Snapshot()}
	}
	report := func(what string, a, b snap) {
		c := b.c.Since(a.c)
		t.Logf("%s: %d HTTP requests (%d to /token), DynamoDB %d reads / %d writes (%.1f RCU, %.1f WCU), S3 %d requests by functions, %d presigned GETs by the client; %s",
			what, b.req-a.req, b.tok-a.tok, c.DynamoReads(), c.DynamoWrites(), c.ReadUnits, c.WriteUnits, c.S3(), b.pre-a.pre, c)
	}
	s0 := take()
	if err := remote.Write(r, img, remote.WithAuth(kc)); err != nil {
		t.Fatalf("push: %v", err)
	}
	s1 := take()
	report("push of a new image (config + 3 layers of 1 MiB, new repository)", s0, s1)
	r2, err := name.NewTag(e.host+"/dev/cost/img:v2", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r2, img, remote.WithAuth(kc)); err != nil {
		t.Fatalf("push again: %v", err)
	}
	s1b := take()
	report("push of the same image under another tag (every blob there)", s1, s1b)
	s1 = s1b
	pulled, err := remote.Image(r, remote.WithAuth(kc))
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if err := verify(pulled); err != nil {
		t.Fatalf("pulled image: %v", err)
	}
	s2 := take()
	report("pull by tag (manifest, config, 3 layers)", s1, s2)
	if !e.external && s2.pre-s1.pre != 4 {
		t.Errorf("the pull fetched %d blobs from S3 by presigned URL, want 4 (config and 3 layers)", s2.pre-s1.pre)
	}
	if c := s2.c.Since(s1.c); c.S3() != 0 {
		t.Errorf("the pull made %d S3 requests from functions, want 0 (blob bytes never pass through a function)", c.S3())
	}
}
