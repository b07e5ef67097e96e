package boundary

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/berth-registry/berth/shared/route"
)

// Placeholders a registry replaces with a session of its own, made
// fresh for the probe (sessions ids differ between backends).
const (
	freshUpload = "@UPLOAD@"
	freshDirect = "@DIRECT@"
)

// registryProbes are the distribution API's probes: every route of the
// table at every depth with valid values, then each slot of each route
// shape (name, reference, digest, upload id, query parameters, headers,
// bodies) over its boundary values.
func registryProbes() []probe {
	var ps []probe
	for _, rt := range route.Table() {
		if rt.Depth == 0 {
			continue // /v2, _catalog, /token and /api have probes of their own
		}
		nm := "dev/app"
		for i := 2; i < rt.Depth; i++ {
			nm += "/x"
		}
		if rt.Depth == 1 {
			nm = "dev"
		}
		ps = append(ps, shapeProbe(rt, "valid values", nameOf(nm), defaults(rt), ""))
	}
	for _, rt := range route.Table() {
		if rt.Depth != 2 {
			continue
		}
		for _, v := range repoNames {
			want := ""
			if !v.valid {
				want = "400 NAME_INVALID"
			}
			ps = append(ps, shapeProbe(rt, label("name", v), name(v), defaults(rt), want))
			if rt.Method == "GET" || rt.Method == "HEAD" {
				anon := shapeProbe(rt, "anonymous "+label("name", v), name(v), defaults(rt), "")
				anon.auth = asNobody
				ps = append(ps, anon)
			}
		}
		for slot, values := range map[string][]value{"ref": tags, "digest": digests, "id": uploadIDs} {
			if !strings.Contains(rt.Path, "{"+slot+"}") {
				continue
			}
			if slot == "ref" {
				values = append(append([]value{}, tags...), digests...)
			}
			for _, v := range values {
				p := defaults(rt)
				p[slot] = seg(v.raw)
				ps = append(ps, shapeProbe(rt, label(slot, v), "dev/app", p, wantFor(rt, slot, v)))
			}
		}
	}
	return append(ps, queryProbes()...)
}

// defaults are a route's valid path parameters.
func defaults(rt route.Route) map[string]string {
	p := map[string]string{"ref": "v1", "digest": seg(appDigest), "id": freshUpload}
	if rt.Function == route.Blobs {
		p["digest"] = seg(digestOf(appLayer))
	}
	return p
}

// wantFor is the answer an invalid value in slot must get.
func wantFor(rt route.Route, slot string, v value) string {
	if v.valid {
		return ""
	}
	switch slot {
	case "id":
		return "404 BLOB_UPLOAD_UNKNOWN"
	case "digest":
		return "400 DIGEST_INVALID"
	case "ref":
		if strings.Contains(v.raw, ":") {
			return "400 DIGEST_INVALID"
		}
		return "400 TAG_INVALID"
	}
	return ""
}

// shapeProbe is a probe of rt with the escaped name and parameters.
func shapeProbe(rt route.Route, what, escName string, params map[string]string, want string) probe {
	segs := strings.Split(rt.Path, "/")[2+rt.Depth:] // after /v2/{n1}/.../{nK}
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = params[strings.Trim(s, "{}")]
		}
	}
	method := rt.Method
	if method == route.Any {
		method = "GET"
	}
	p := probe{
		name:   fmt.Sprintf("%s %s %s", method, rt.Path, what),
		method: method, target: "/v2/" + escName + "/" + strings.Join(segs, "/"),
		want: want,
	}
	if strings.HasSuffix(p.target, "/blobs/uploads") {
		p.target += "/"
	}
	if rt.Function == route.Manifests && method == "PUT" {
		p.body, p.header = appManifest, http.Header{"Content-Type": {manifestType}}
	}
	if method == "HEAD" {
		p.want, _, _ = strings.Cut(p.want, " ") // no body, no code
	}
	return p
}

// queryProbes vary the query parameters, headers and bodies the
// distribution API reads.
func queryProbes() []probe {
	var ps []probe
	add := func(method, target, what, want string, body []byte, h http.Header) {
		ps = append(ps, probe{name: method + " " + strings.SplitN(target, "?", 2)[0] + " " + what, method: method, target: target, want: want, body: body, header: h})
	}
	for _, v := range numbers {
		add("GET", "/v2/dev/app/tags/list?n="+q(v.raw), label("n", v), "", nil, nil)
		add("GET", "/v2/_catalog?n="+q(v.raw), label("n", v), "", nil, nil)
	}
	for _, v := range append(append([]value{}, tags...), cursors...) {
		want := ""
		if !v.valid {
			want = "400 TAG_INVALID"
		}
		add("GET", "/v2/dev/app/tags/list?last="+q(v.raw), label("last", v), want, nil, nil)
	}
	for _, v := range repoNames {
		want := ""
		if !v.valid {
			want = "400 NAME_INVALID"
		}
		add("GET", "/v2/_catalog?last="+q(v.raw), label("last", v), want, nil, nil)
		add("POST", "/v2/dev/app/blobs/uploads/?mount="+q(digestOf(appLayer))+"&from="+q(v.raw), label("from", v), "", nil, nil)
	}
	for _, v := range cursors {
		add("GET", "/v2/dev/app/referrers/"+seg(appDigest)+"?artifactType="+q(v.raw), label("artifactType", v), "", nil, nil)
	}
	for _, v := range digests {
		want := ""
		if !v.valid {
			want = "400 DIGEST_INVALID"
		}
		add("POST", "/v2/dev/app/blobs/uploads/?digest="+q(v.raw), label("digest", v), want, []byte("x"), nil)
		add("PUT", "/v2/dev/app/blobs/uploads/"+freshUpload+"?digest="+q(v.raw), label("digest", v), want, []byte("x"), nil)
		add("POST", "/v2/dev/app/blobs/uploads/?mount="+q(v.raw)+"&from=dev/app", label("mount", v), "", nil, nil)
	}
	for _, v := range tags {
		want := ""
		if !v.valid {
			want = "400 TAG_INVALID"
		}
		add("PUT", "/v2/dev/app/manifests/"+seg(appDigest)+"?tag="+q(v.raw), label("tag", v), want, appManifest, http.Header{"Content-Type": {manifestType}})
	}
	// (No NUL here: no client can send one in a header.)
	for _, cr := range []string{"", "0-0", "0-", "abc", "-1-0", "0-99999999999999999999", strings.Repeat("1", 5000), "0-0é", "bytes 0-0/1"} {
		add("PATCH", "/v2/dev/app/blobs/uploads/"+freshUpload, fmt.Sprintf("Content-Range=%.20q", cr), "", []byte("x"), http.Header{"Content-Range": {cr}})
	}
	for _, spec := range []string{"1-2", "0", "1-10001", "9999-10000", "2-1", "abc", strings.Repeat("1", 5000), "1-\x00", "-1"} {
		add("GET", "/v2/dev/app/blobs/uploads/"+freshDirect+"?parts="+q(spec), fmt.Sprintf("parts=%.20q", spec), "", nil, nil)
	}
	for what, body := range partLists() {
		add("PUT", "/v2/dev/app/blobs/uploads/"+freshDirect+"?digest="+q(digestOf(appLayer)), "part list "+what, "4xx", body, nil)
	}
	return ps
}

// partLists are completion bodies of a direct upload.
func partLists() map[string][]byte {
	many := `{"parts":[` + strings.Repeat(`{"number":1,"etag":"x","size":1},`, 10000) + `{"number":1,"etag":"x","size":1}]}`
	return map[string][]byte{
		"empty":               nil,
		"not JSON":            []byte("\x00\x01"),
		"no parts":            []byte(`{"parts":[]}`),
		"10,001 parts":        []byte(many),
		"part 0":              []byte(`{"parts":[{"number":0,"etag":"x","size":1}]}`),
		"part 10,001":         []byte(`{"parts":[{"number":10001,"etag":"x","size":1}]}`),
		"huge number":         []byte(`{"parts":[{"number":99999999999999999999,"etag":"x","size":1}]}`),
		"5,000-byte etag":     []byte(`{"parts":[{"number":1,"etag":"` + a(5000) + `","size":1}]}`),
		"NUL etag":            []byte(`{"parts":[{"number":1,"etag":"\u0000","size":1}]}`),
		"non-ASCII etag":      []byte(`{"parts":[{"number":1,"etag":"é","size":1}]}`),
		"negative size":       []byte(`{"parts":[{"number":1,"etag":"x","size":-1}]}`),
		"unknown part":        []byte(`{"parts":[{"number":1,"etag":"\"` + hex(32) + `\"","size":1}]}`),
		"descending":          []byte(`{"parts":[{"number":2,"etag":"x","size":5242880},{"number":1,"etag":"x","size":1}]}`),
		"a 6 GiB part":        []byte(`{"parts":[{"number":1,"etag":"x","size":6442450944}]}`),
		"a small middle part": []byte(`{"parts":[{"number":1,"etag":"x","size":1},{"number":2,"etag":"x","size":1}]}`),
	}
}

// authProbes send Basic logins whose tenancy, user or token id is a
// boundary value, and docker's token requests with boundary scopes:
// each is a bad credential (401) or a bad scope (4xx), never more.
func authProbes() []probe {
	fake := func(id string) string { return "bt_" + id + "_" + a(32) }
	type login struct{ what, user, pass string }
	var logins []login
	for _, v := range tenancies {
		logins = append(logins, login{label("tenancy", v), v.raw + "/admin", fake(a(16))})
	}
	for _, v := range users {
		logins = append(logins, login{label("user", v), "dev/" + v.raw, fake(a(16))})
	}
	for _, v := range tokenIDs {
		logins = append(logins, login{label("token id", v), "dev/admin", fake(v.raw)})
	}
	logins = append(logins,
		login{"no slash", "devadmin", fake(a(16))}, login{"no user", "dev/", fake(a(16))},
		login{"no tenancy", "/admin", fake(a(16))}, login{"a 5,000-byte password", "dev/admin", a(5000)})
	var ps []probe
	for _, l := range logins {
		h := http.Header{"Authorization": {basic(l.user, l.pass)}}
		for _, target := range []string{"/v2/", "/v2/dev/app/tags/list", "/v2/dev/app/manifests/v1", "/v2/_catalog", "/api/tenancies/dev",
			"/token?service=berth&scope=" + q("repository:dev/app:pull"), "/token?service=berth"} {
			ps = append(ps, probe{name: "GET " + target + " Basic " + l.what, method: "GET", target: target, header: h, auth: asGiven, want: "401 UNAUTHORIZED"})
		}
		form := url.Values{"grant_type": {"password"}, "username": {l.user}, "password": {l.pass}, "service": {"berth"}, "scope": {"repository:dev/app:pull"}}
		ps = append(ps, probe{name: "POST /token password grant " + l.what, method: "POST", target: "/token",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body: []byte(form.Encode()), auth: asGiven, want: "401 UNAUTHORIZED"})
	}
	for _, v := range repoNames {
		want := ""
		if !v.valid {
			want = "400 NAME_INVALID"
		}
		ps = append(ps, probe{name: "GET /token " + label("scope name", v), method: "GET", target: "/token?service=berth&scope=" + q("repository:"+v.raw+":pull"), want: want})
	}
	for what, scope := range map[string]string{
		"5,000-byte scope": a(5000),
		"NUL scope":        "repository:dev/app\x00:pull", "21 scopes": strings.TrimSpace(strings.Repeat("repository:dev/app:pull ", 21)),
	} {
		ps = append(ps, probe{name: "GET /token " + what, method: "GET", target: "/token?service=berth&scope=" + q(scope), want: "4xx"})
	}
	return ps
}

// allProbes is every probe, registry, credentials, admin and retention.
func allProbes() []probe {
	return append(append(append(registryProbes(), authProbes()...), adminProbes()...), retentionProbes()...)
}
