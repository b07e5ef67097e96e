// Command eventgen writes Berth's events/*.json fixtures; usage: go run ./scripts/eventgen events
//
// Its output is committed. Every byte derives from fixed inputs (names,
// times, ids hashed from file names, the layer's tar and gzip headers), so
// a run reproduces the files exactly (checked with Go 1.26). The one
// outside dependency is the layer's gzip stream: compress/flate does not
// promise the same bytes in every Go release, and a change there would
// change the layer's digest and every digest that names it.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	host     = "k7q2v9xw1e.execute-api.eu-west-1.amazonaws.com"
	ip       = "203.0.113.42"
	uploadID = "7e2d0f5c9a4b4c1e8d3f6a2b1c0e9d8f"
	docker   = "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0-45-generic os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \\(linux\\))"
	ctrd     = "containerd/2.0.2"
	oras     = "oras-go"
	crane    = "crane/v0.20.2 go-containerregistry/v0.20.2"
	created  = "2026-01-01T00:00:00Z"
)

type httpDesc struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

type authorizer struct {
	Lambda map[string]any `json:"lambda"`
}

type reqCtx struct {
	AccountID    string      `json:"accountId"`
	APIID        string      `json:"apiId"`
	Authorizer   *authorizer `json:"authorizer,omitempty"`
	DomainName   string      `json:"domainName"`
	DomainPrefix string      `json:"domainPrefix"`
	HTTP         httpDesc    `json:"http"`
	RequestID    string      `json:"requestId"`
	RouteKey     string      `json:"routeKey"`
	Stage        string      `json:"stage"`
	Time         string      `json:"time"`
	TimeEpoch    int64       `json:"timeEpoch"`
}

type event struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        reqCtx            `json:"requestContext"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

type req struct {
	file, method, routeKey, path, query, ua string
	params                                  map[string]string
	qsp                                     map[string]string
	headers                                 map[string]string
	body                                    []byte
	contentType                             string
	decision                                map[string]any // the authorizer's context; nil: dev/admin allowed
}

// allowed is the decision the authorizer reaches for dev/admin (Basic
// credentials, administrators group) on a route needing scope.
func allowed(scope string, mountFrom bool) map[string]any {
	return map[string]any{"allow": true, "status": 0, "tenancy": "dev", "user": "admin", "groups": "administrators",
		"via": "basic", "scope": scope, "message": "", "mountFrom": mountFrom}
}

// scopeOf is the Docker token scope the authorizer names for a route.
func scopeOf(routeKey, name string) string {
	method, path, _ := strings.Cut(routeKey, " ")
	switch {
	case path == "/v2" || strings.HasPrefix(path, "/v2/{proxy+}"):
		return ""
	case path == "/v2/_catalog":
		return "registry:catalog:*"
	case strings.Contains(path, "/blobs/uploads") || method == "PUT":
		return "repository:" + name + ":pull,push"
	case method == "DELETE":
		return "repository:" + name + ":delete"
	}
	return "repository:" + name + ":pull"
}

var n int64

func build(r req) event {
	n++
	t := time.Date(2026, 7, 10, 19, 19, 5, 0, time.UTC).Add(time.Duration(n) * 1370 * time.Millisecond)
	h := map[string]string{
		"host":              host,
		"user-agent":        r.ua,
		"x-amzn-trace-id":   fmt.Sprintf("Root=1-%08x-%x", t.Unix(), sha256.Sum224([]byte(r.file)))[:40],
		"x-forwarded-for":   ip,
		"x-forwarded-port":  "443",
		"x-forwarded-proto": "https",
	}
	if r.ua != ctrd {
		h["accept-encoding"] = "gzip"
	}
	for k, v := range r.headers {
		h[k] = v
	}
	sum := sha256.Sum256([]byte(r.file))
	id := strings.NewReplacer("+", "A", "/", "B").Replace(base64.StdEncoding.EncodeToString(sum[:11]))
	ev := event{
		Version:               "2.0",
		RouteKey:              r.routeKey,
		RawPath:               r.path,
		RawQueryString:        r.query,
		Headers:               h,
		QueryStringParameters: r.qsp,
		PathParameters:        r.params,
		RequestContext: reqCtx{
			AccountID: "123456789012", APIID: "k7q2v9xw1e", DomainName: host, DomainPrefix: "k7q2v9xw1e",
			HTTP:      httpDesc{Method: r.method, Path: r.path, Protocol: "HTTP/1.1", SourceIP: ip, UserAgent: r.ua},
			RequestID: id, RouteKey: r.routeKey, Stage: "$default",
			Time: t.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: t.UnixMilli(),
		},
	}
	d := r.decision
	if d == nil {
		var parts []string
		for i := 1; r.params["n"+fmt.Sprint(i)] != ""; i++ {
			parts = append(parts, r.params["n"+fmt.Sprint(i)])
		}
		d = allowed(scopeOf(r.routeKey, strings.Join(parts, "/")), false)
	}
	ev.RequestContext.Authorizer = &authorizer{Lambda: d}
	if r.body != nil {
		h["content-length"] = fmt.Sprint(len(r.body))
		if r.contentType != "" {
			h["content-type"] = r.contentType
		}
		ct := strings.Split(r.contentType, ";")[0]
		if strings.HasPrefix(ct, "text/") || ct == "application/json" || ct == "application/xml" || ct == "application/javascript" {
			ev.Body = string(r.body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(r.body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/eventgen <dir>")
		os.Exit(2)
	}
	out := os.Args[1]
	// The layer: a gzipped tar holding one file.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	content := []byte("Hello from Berth!\n")
	must(tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}))
	_, _ = tw.Write(content)
	must(tw.Close())
	var gb bytes.Buffer
	gw := gzip.NewWriter(&gb)
	_, _ = gw.Write(tb.Bytes())
	must(gw.Close())
	layer := gb.Bytes()
	config := []byte(`{"architecture":"amd64","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["cat","/hello.txt"]},"created":"` + created + `","history":[{"created":"` + created + `","created_by":"COPY hello.txt / # buildkit","comment":"buildkit.dockerfile.v0"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest(tb.Bytes()) + `"]}}`)
	empty := []byte("{}")
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + digest(config) + `","size":` + fmt.Sprint(len(config)) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + digest(layer) + `","size":` + fmt.Sprint(len(layer)) + `}],"annotations":{"org.opencontainers.image.created":"` + created + `"}}`)
	emptyDesc := `{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + digest(empty) + `","size":2,"data":"e30="}`
	referrer := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.attestation.v1+json","config":` + emptyDesc + `,"layers":[` + emptyDesc + `],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest(manifest) + `","size":` + fmt.Sprint(len(manifest)) + `},"annotations":{"org.example.verified":"true","org.opencontainers.image.created":"` + created + `"}}`)
	unknownSubject := digest([]byte("no such manifest"))
	split := len(layer) / 2

	name := map[string]string{"n1": "dev", "n2": "hello"}
	with := func(m map[string]string, kv ...string) map[string]string {
		o := map[string]string{}
		for k, v := range m {
			o[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			o[kv[i]] = kv[i+1]
		}
		return o
	}
	q := func(s string) string { return strings.NewReplacer(":", "%3A", "/", "%2F", "+", "%2B").Replace(s) }
	manAccept := map[string]string{"accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*"}
	const d2 = "/v2/{n1}/{n2}"
	noBody := map[string]string{"content-length": "0"}
	tooDeep := "a/b/c/d/e/f/g/h/i/manifests/latest"

	reqs := []req{
		{file: "base-get", method: "GET", routeKey: "GET /v2", path: "/v2/", ua: docker},
		{file: "base-get-anonymous", method: "GET", routeKey: "GET /v2", path: "/v2/", ua: docker,
			decision: map[string]any{"allow": false, "status": 401, "tenancy": "", "user": "", "groups": "",
				"via": "none", "scope": "", "message": "authentication required", "mountFrom": false}},
		{file: "base-head", method: "HEAD", routeKey: "HEAD /v2", path: "/v2/", ua: ctrd},
		{file: "base-catchall-too-deep", method: "GET", routeKey: "ANY /v2/{proxy+}", path: "/v2/" + tooDeep, ua: ctrd,
			params: map[string]string{"proxy": tooDeep}, headers: manAccept},
		{file: "base-catchall-uploads-slash", method: "POST", routeKey: "ANY /v2/{proxy+}", path: "/v2/dev/hello/blobs/uploads/", ua: docker,
			params: map[string]string{"proxy": "dev/hello/blobs/uploads/"}, headers: noBody,
			decision: allowed("repository:dev/hello:pull,push", false)},
		{file: "base-catchall-unknown", method: "GET", routeKey: "ANY /v2/{proxy+}", path: "/v2/dev/hello/nothing", ua: docker,
			params: map[string]string{"proxy": "dev/hello/nothing"}},
		{file: "catalog-list", method: "GET", routeKey: "GET /v2/_catalog", path: "/v2/_catalog", ua: crane},
		{file: "catalog-list-page", method: "GET", routeKey: "GET /v2/_catalog", path: "/v2/_catalog", query: "n=1", ua: crane,
			qsp: map[string]string{"n": "1"}},
		{file: "uploads-post", method: "POST", routeKey: "POST " + d2 + "/blobs/uploads", path: "/v2/dev/hello/blobs/uploads/", ua: docker, params: name, headers: noBody},
		{file: "uploads-patch", method: "PATCH", routeKey: "PATCH " + d2 + "/blobs/uploads/{id}", path: "/v2/dev/hello/blobs/uploads/" + uploadID, ua: docker,
			params: with(name, "id", uploadID), body: layer[:split], contentType: "application/octet-stream",
			headers: map[string]string{"content-range": fmt.Sprintf("0-%d", split-1)}},
		{file: "uploads-get", method: "GET", routeKey: "GET " + d2 + "/blobs/uploads/{id}", path: "/v2/dev/hello/blobs/uploads/" + uploadID, ua: docker,
			params: with(name, "id", uploadID)},
		{file: "uploads-put", method: "PUT", routeKey: "PUT " + d2 + "/blobs/uploads/{id}", path: "/v2/dev/hello/blobs/uploads/" + uploadID, ua: docker,
			query: "digest=" + q(digest(layer)), qsp: map[string]string{"digest": digest(layer)},
			params: with(name, "id", uploadID), body: layer[split:], contentType: "application/octet-stream"},
		{file: "uploads-delete", method: "DELETE", routeKey: "DELETE " + d2 + "/blobs/uploads/{id}", path: "/v2/dev/hello/blobs/uploads/" + uploadID, ua: docker,
			params: with(name, "id", uploadID)},
		{file: "uploads-post-monolithic", method: "POST", routeKey: "POST " + d2 + "/blobs/uploads", path: "/v2/dev/hello/blobs/uploads/", ua: crane,
			query: "digest=" + q(digest(config)), qsp: map[string]string{"digest": digest(config)},
			params: name, body: config, contentType: "application/octet-stream"},
		{file: "uploads-post-monolithic-empty", method: "POST", routeKey: "POST " + d2 + "/blobs/uploads", path: "/v2/dev/hello/blobs/uploads/", ua: oras,
			query: "digest=" + q(digest(empty)), qsp: map[string]string{"digest": digest(empty)},
			params: name, body: empty, contentType: "application/octet-stream"},
		{file: "uploads-post-mount", method: "POST", routeKey: "POST " + d2 + "/blobs/uploads", path: "/v2/dev/world/blobs/uploads/", ua: docker,
			query: "mount=" + q(digest(layer)) + "&from=dev%2Fhello", qsp: map[string]string{"mount": digest(layer), "from": "dev/hello"},
			params: map[string]string{"n1": "dev", "n2": "world"}, headers: noBody,
			decision: allowed("repository:dev/world:pull,push", true)},
		{file: "manifests-get-unknown", method: "GET", routeKey: "GET " + d2 + "/manifests/{ref}", path: "/v2/dev/hello/manifests/missing", ua: ctrd,
			params: with(name, "ref", "missing"), headers: manAccept},
		{file: "manifests-put", method: "PUT", routeKey: "PUT " + d2 + "/manifests/{ref}", path: "/v2/dev/hello/manifests/v1", ua: docker,
			params: with(name, "ref", "v1"), body: manifest, contentType: "application/vnd.oci.image.manifest.v1+json"},
		{file: "manifests-get", method: "GET", routeKey: "GET " + d2 + "/manifests/{ref}", path: "/v2/dev/hello/manifests/v1", ua: ctrd,
			params: with(name, "ref", "v1"), headers: manAccept},
		{file: "manifests-head", method: "HEAD", routeKey: "HEAD " + d2 + "/manifests/{ref}", path: "/v2/dev/hello/manifests/v1", ua: ctrd,
			params: with(name, "ref", "v1"), headers: manAccept},
		{file: "manifests-put-referrer", method: "PUT", routeKey: "PUT " + d2 + "/manifests/{ref}", path: "/v2/dev/hello/manifests/" + digest(referrer), ua: oras,
			params: with(name, "ref", digest(referrer)), body: referrer, contentType: "application/vnd.oci.image.manifest.v1+json"},
		{file: "manifests-delete", method: "DELETE", routeKey: "DELETE " + d2 + "/manifests/{ref}", path: "/v2/dev/hello/manifests/" + digest(manifest), ua: crane,
			params: with(name, "ref", digest(manifest))},
		{file: "manifests-delete-denied", method: "DELETE", routeKey: "DELETE " + d2 + "/manifests/{ref}", path: "/v2/dev/hello/manifests/" + digest(manifest), ua: crane,
			params: with(name, "ref", digest(manifest)),
			decision: map[string]any{"allow": false, "status": 403, "tenancy": "dev", "user": "ci", "groups": "pushers",
				"via": "basic", "scope": "repository:dev/hello:delete", "message": "dev/ci may not delete repository dev/hello", "mountFrom": false}},
		{file: "blobs-head", method: "HEAD", routeKey: "HEAD " + d2 + "/blobs/{digest}", path: "/v2/dev/hello/blobs/" + digest(layer), ua: docker,
			params: with(name, "digest", digest(layer))},
		{file: "blobs-head-other-repo", method: "HEAD", routeKey: "HEAD " + d2 + "/blobs/{digest}", path: "/v2/dev/world/blobs/" + digest(layer), ua: docker,
			params: map[string]string{"n1": "dev", "n2": "world", "digest": digest(layer)}},
		{file: "blobs-get", method: "GET", routeKey: "GET " + d2 + "/blobs/{digest}", path: "/v2/dev/hello/blobs/" + digest(layer), ua: ctrd,
			params: with(name, "digest", digest(layer)), headers: map[string]string{"accept": "application/vnd.oci.image.layer.v1.tar+gzip, */*"}},
		{file: "blobs-delete", method: "DELETE", routeKey: "DELETE " + d2 + "/blobs/{digest}", path: "/v2/dev/hello/blobs/" + digest(layer), ua: crane,
			params: with(name, "digest", digest(layer))},
		{file: "tags-list", method: "GET", routeKey: "GET " + d2 + "/tags/list", path: "/v2/dev/hello/tags/list", ua: crane, params: name},
		{file: "tags-list-unknown", method: "GET", routeKey: "GET /v2/{n1}/{n2}/{n3}/{n4}/tags/list", path: "/v2/dev/team/tools/unknown/tags/list", ua: crane,
			query: "n=50", qsp: map[string]string{"n": "50"},
			params: map[string]string{"n1": "dev", "n2": "team", "n3": "tools", "n4": "unknown"}},
		{file: "referrers-list", method: "GET", routeKey: "GET " + d2 + "/referrers/{digest}", path: "/v2/dev/hello/referrers/" + digest(manifest), ua: oras,
			params: with(name, "digest", digest(manifest)), headers: map[string]string{"accept": "application/vnd.oci.image.index.v1+json"}},
		{file: "referrers-list-filtered", method: "GET", routeKey: "GET " + d2 + "/referrers/{digest}", path: "/v2/dev/hello/referrers/" + digest(manifest), ua: oras,
			query: "artifactType=" + q("application/vnd.example.sbom.v1+json"), qsp: map[string]string{"artifactType": "application/vnd.example.sbom.v1+json"},
			params: with(name, "digest", digest(manifest)), headers: map[string]string{"accept": "application/vnd.oci.image.index.v1+json"}},
		{file: "referrers-list-unknown", method: "GET", routeKey: "GET " + d2 + "/referrers/{digest}", path: "/v2/dev/hello/referrers/" + unknownSubject, ua: oras,
			params: with(name, "digest", unknownSubject), headers: map[string]string{"accept": "application/vnd.oci.image.index.v1+json"}},
	}
	for _, r := range reqs {
		b, err := json.MarshalIndent(build(r), "", "  ")
		must(err)
		b = append(b, '\n')
		must(os.WriteFile(filepath.Join(out, r.file+".json"), b, 0o644))
	}
	fmt.Println("layer", digest(layer), len(layer), "config", digest(config), "manifest", digest(manifest), len(manifest), "referrer", digest(referrer))
}
