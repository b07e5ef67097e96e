package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// accept is what docker asks for when it pulls a manifest.
const accept = mediaManifest + ", application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// pull runs the manifest and pull checks, which need the config blob.
func (r *run) pull(ctx context.Context) {
	if !r.img.config.pushed {
		for _, n := range []string{CheckManifestPut, CheckManifestHead, CheckBlobHead, CheckManifestGet, CheckBlobGet, CheckTags} {
			r.add(skip(n, "needs the config blob, whose push failed"))
		}
		return
	}
	r.img.buildManifest()
	put := r.checkManifestPut(ctx)
	r.add(put)
	for _, c := range []struct {
		name          string
		check         func(context.Context) Result
		needsManifest bool
	}{
		{CheckManifestHead, r.checkManifestHead, true},
		{CheckBlobHead, r.checkBlobHead, false},
		{CheckManifestGet, r.checkManifestGet, true},
		{CheckBlobGet, r.checkBlobGet, false},
		{CheckTags, r.checkTags, true},
	} {
		if c.needsManifest && !put.OK {
			r.add(skip(c.name, "needs the manifest, whose push failed"))
			continue
		}
		r.add(c.check(ctx))
	}
}

func (r *run) manifestPath(ref string) string { return "/v2/" + r.repo + "/manifests/" + ref }

// checkManifestPut pushes the manifest by tag.
func (r *run) checkManifestPut(ctx context.Context) Result {
	d := sha256Digest(r.img.manifest)
	want := "201 with Docker-Content-Digest " + d
	r.manDigest = d // for cleanup, even if the answer never arrives
	ans, err := r.do(ctx, request{method: http.MethodPut, target: r.manifestPath(tag), body: r.img.manifest, auth: r.auth,
		header: map[string]string{"Content-Type": mediaManifest}})
	if err != nil {
		return fail(CheckManifestPut, "PUT failed: "+err.Error(), want, FixReach)
	}
	if ans.StatusCode != http.StatusCreated {
		return fail(CheckManifestPut, "PUT "+r.manifestPath(tag)+": "+describe(ans), want, fixFor(ans))
	}
	if got := ans.Header.Get("Docker-Content-Digest"); got != d {
		return fail(CheckManifestPut, "Docker-Content-Digest "+orMissing(got), want, fixFunction(ans))
	}
	return ok(CheckManifestPut, fmt.Sprintf("%s:%s, %d bytes, %s", r.repo, tag, len(r.img.manifest), d))
}

func orMissing(s string) string {
	if s == "" {
		return "missing"
	}
	return s
}

// headSeen describes the Content-Length and digest a HEAD answered.
func headSeen(ans *response) string {
	cl := ans.Header.Get("Content-Length")
	if cl == "" {
		cl = "missing"
	}
	return fmt.Sprintf("%d, Content-Length %s, Docker-Content-Digest %s", ans.StatusCode, cl, orMissing(ans.Header.Get("Docker-Content-Digest")))
}

// checkHead HEADs content and checks the size and digest headers,
// which containerd (manifests) and docker (blobs) read instead of a body.
func (r *run) checkHead(ctx context.Context, name, path string, size int64, d string) Result {
	want := fmt.Sprintf("200, Content-Length %d, Docker-Content-Digest %s", size, d)
	ans, err := r.do(ctx, request{method: http.MethodHead, target: path, auth: r.auth, header: map[string]string{"Accept": accept}})
	if err != nil {
		return fail(name, "HEAD failed: "+err.Error(), want, FixReach)
	}
	seen := headSeen(ans)
	switch {
	case ans.StatusCode != http.StatusOK:
		return fail(name, "HEAD "+path+": "+seen, want, fixFor(ans))
	case ans.ContentLength != size:
		return fail(name, seen, want, FixHeadLength)
	case ans.Header.Get("Docker-Content-Digest") != d:
		return fail(name, seen, want, FixAPIVersion)
	}
	return ok(name, seen)
}

func (r *run) checkManifestHead(ctx context.Context) Result {
	return r.checkHead(ctx, CheckManifestHead, r.manifestPath(tag), int64(len(r.img.manifest)), r.manDigest)
}

func (r *run) checkBlobHead(ctx context.Context) Result {
	c := r.img.config
	return r.checkHead(ctx, CheckBlobHead, "/v2/"+r.repo+"/blobs/"+c.Digest, c.Size, c.Digest)
}

// checkManifestGet pulls the manifest by tag and compares the bytes.
func (r *run) checkManifestGet(ctx context.Context) Result {
	d := r.manDigest
	want := "200 with the manifest pushed and Docker-Content-Digest " + d
	ans, err := r.do(ctx, request{method: http.MethodGet, target: r.manifestPath(tag), auth: r.auth, header: map[string]string{"Accept": accept}})
	if err != nil {
		return fail(CheckManifestGet, "GET failed: "+err.Error(), want, FixReach)
	}
	if ans.StatusCode != http.StatusOK {
		return fail(CheckManifestGet, "GET "+r.manifestPath(tag)+": "+describe(ans), want, fixFor(ans))
	}
	if got := sha256Digest(ans.Body); got != d {
		return fail(CheckManifestGet, fmt.Sprintf("%d bytes with digest %s", len(ans.Body), got), want, fixFunction(ans))
	}
	if got := ans.Header.Get("Docker-Content-Digest"); got != d {
		return fail(CheckManifestGet, "Docker-Content-Digest "+orMissing(got), want, FixAPIVersion)
	}
	return ok(CheckManifestGet, fmt.Sprintf("%d bytes, %s", len(ans.Body), ans.Header.Get("Content-Type")))
}

// checkBlobGet pulls a layer: the registry redirects to storage, and
// what storage serves must have the layer's digest.
func (r *run) checkBlobGet(ctx context.Context) Result {
	b := r.img.config
	for _, l := range []*blob{r.img.chunked, r.img.streamed} {
		if l.pushed {
			b = l
			break
		}
	}
	path := "/v2/" + r.repo + "/blobs/" + b.Digest
	want := "307 to storage, which serves bytes with digest " + b.Digest
	ans, err := r.do(ctx, request{method: http.MethodGet, target: path, auth: r.auth})
	if err != nil {
		return fail(CheckBlobGet, "GET failed: "+err.Error(), want, FixReach)
	}
	via := "served by the registry"
	if ans.StatusCode == http.StatusTemporaryRedirect || ans.StatusCode == http.StatusFound || ans.StatusCode == http.StatusSeeOther {
		loc, err := ans.Request.URL.Parse(ans.Header.Get("Location"))
		if err != nil || ans.Header.Get("Location") == "" {
			return fail(CheckBlobGet, fmt.Sprintf("%d without a usable Location", ans.StatusCode), want, fixFunction(ans))
		}
		via = fmt.Sprintf("%d to %s://%s", ans.StatusCode, loc.Scheme, loc.Host)
		// Storage gets no credentials, as docker sends none to another host.
		if ans, err = r.do(ctx, request{method: http.MethodGet, target: loc.String()}); err != nil {
			return fail(CheckBlobGet, via+"; GET there failed: "+err.Error(), want, FixStorage)
		}
		if ans.StatusCode != http.StatusOK {
			return fail(CheckBlobGet, via+"; storage answered "+fmt.Sprint(ans.StatusCode)+" "+clip(string(ans.Body), 100), want, FixStorage)
		}
	} else if ans.StatusCode != http.StatusOK {
		return fail(CheckBlobGet, "GET "+path+": "+describe(ans), want, fixFor(ans))
	}
	if got := sha256Digest(ans.Body); got != b.Digest {
		return fail(CheckBlobGet, fmt.Sprintf("%s; %d bytes with digest %s", via, len(ans.Body), got), want, FixStorage)
	}
	return ok(CheckBlobGet, fmt.Sprintf("%s; %d bytes, digest verified", via, len(ans.Body)))
}

// checkTags lists the repository's tags.
func (r *run) checkTags(ctx context.Context) Result {
	path := "/v2/" + r.repo + "/tags/list"
	want := fmt.Sprintf(`200 {"name":%q,"tags":[%q]}`, r.repo, tag)
	ans, err := r.do(ctx, request{method: http.MethodGet, target: path, auth: r.auth})
	if err != nil {
		return fail(CheckTags, "GET failed: "+err.Error(), want, FixReach)
	}
	var list struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if ans.StatusCode != http.StatusOK {
		return fail(CheckTags, "GET "+path+": "+describe(ans), want, fixFor(ans))
	}
	if json.Unmarshal(ans.Body, &list) != nil || !slices.Contains(list.Tags, tag) {
		return fail(CheckTags, clip(string(ans.Body), 120), want, fixFunction(ans))
	}
	return ok(CheckTags, fmt.Sprintf("tags %v", list.Tags))
}

// cleanup deletes what the run pushed — the manifest, the blob links,
// any open upload session, then the repository itself (Berth's admin
// API) — and checks that nothing is left. It runs even when a check
// before it failed.
func (r *run) cleanup(ctx context.Context) Result {
	var problems []string
	done := map[string]int{}
	// 404 is fine everywhere: what was never created (a push that failed
	// or was interrupted) need not be deleted.
	del := func(target, auth, what string) {
		ans, err := r.do(ctx, request{method: http.MethodDelete, target: target, auth: auth})
		switch {
		case err != nil:
			problems = append(problems, what+": "+err.Error())
		case ans.StatusCode >= 200 && ans.StatusCode < 300:
			done[what]++
		case ans.StatusCode != http.StatusNotFound:
			problems = append(problems, what+": "+describe(ans))
		}
	}
	if r.manDigest != "" {
		del(r.manifestPath(r.manDigest), r.auth, "manifest")
	}
	for _, b := range []*blob{r.img.config, r.img.chunked, r.img.streamed} {
		del("/v2/"+r.repo+"/blobs/"+b.Digest, r.auth, "blob link")
	}
	for _, s := range r.sessions {
		del(s, r.auth, "upload session")
	}
	r.sessions = nil
	// Only Berth's admin API removes the repository record; elsewhere a
	// 404 here just means there is no such API.
	del("/api/repositories/"+r.repo, r.basicAuth(), "repository")
	if r.manDigest != "" {
		ans, err := r.do(ctx, request{method: http.MethodGet, target: r.manifestPath(tag), auth: r.auth, header: map[string]string{"Accept": accept}})
		if err == nil && ans.StatusCode == http.StatusOK {
			problems = append(problems, r.repo+":"+tag+" still resolves")
		}
	}
	want := "the manifest, blob links, upload sessions and repository " + r.repo + " deleted"
	if len(problems) > 0 {
		return fail(CheckCleanup, "left behind: "+strings.Join(problems, "; "), want, fixCleanup(r.repo))
	}
	var parts []string
	for _, what := range []string{"manifest", "blob link", "upload session"} {
		switch n := done[what]; {
		case n == 1:
			parts = append(parts, "1 "+what)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", n, what))
		}
	}
	where := " in " + r.repo
	if done["repository"] > 0 {
		where = " and the repository " + r.repo
	}
	return ok(CheckCleanup, "deleted "+strings.Join(parts, ", ")+where)
}
