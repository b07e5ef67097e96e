package registry_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

var _ registry.DirectStore = (*local.Objects)(nil)

// newDirectEnv is newEnv with a registry that verifies at most
// verifyStep bytes a request (0: the default), over wrap(objects) when
// wrap is not nil.
func newDirectEnv(t *testing.T, verifyStep int64, wrap func(*local.Objects) store.BlobStore) *env {
	t.Helper()
	cfg := registry.DefaultConfig()
	cfg.VerifyStep = verifyStep
	return newEnvConfig(t, cfg, wrap)
}

// directPart is a part as a client sends it and lists it at completion.
type directPart struct {
	Number int    `json:"number"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
}

// startDirect opens a direct session and returns its Location.
func (e *env) startDirect(t *testing.T, repo string) string {
	t.Helper()
	res, body := e.do(t, "POST", "/v2/"+repo+"/blobs/uploads/?direct=1", nil, nil)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST ?direct=1: %d %s", res.StatusCode, body)
	}
	checkHeaders(t, res.Header, map[string]string{
		"Berth-Upload-Mode": "direct", "Berth-Upload-State": "uploading",
		"Berth-Part-Min-Length": "5242880", "Berth-Part-Max-Length": "5368709120", "Berth-Part-Max-Count": "10000",
		"Location": present, "OCI-Chunk-Max-Length": "4194304",
	})
	return res.Header.Get("Location")
}

// sendParts asks for part URLs and PUTs data to them in parts of
// partSize, returning the completion list.
func (e *env) sendParts(t *testing.T, loc string, data []byte, partSize int) []directPart {
	t.Helper()
	n := max(1, (len(data)+partSize-1)/partSize)
	res, body := e.do(t, "GET", fmt.Sprintf("%s?parts=1-%d", loc, n), nil, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET ?parts=1-%d: %d %s", n, res.StatusCode, body)
	}
	var urls struct {
		Parts []struct {
			Number int    `json:"number"`
			URL    string `json:"url"`
		} `json:"parts"`
	}
	if err := json.Unmarshal(body, &urls); err != nil || len(urls.Parts) != n {
		t.Fatalf("part URLs %s: %v, want %d", body, err, n)
	}
	var parts []directPart
	for i, p := range urls.Parts {
		if p.Number != i+1 || !strings.HasPrefix(p.URL, e.srv.URL+local.ObjectPathPrefix) {
			t.Fatalf("part %d: number %d URL %q, want an absolute signed URL on this server", i+1, p.Number, p.URL)
		}
		chunk := data[i*partSize : min(len(data), (i+1)*partSize)]
		res, body := e.do(t, "PUT", p.URL, chunk, nil)
		if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == "" {
			t.Fatalf("PUT part %d: %d %s", p.Number, res.StatusCode, body)
		}
		parts = append(parts, directPart{p.Number, res.Header.Get("ETag"), int64(len(chunk))})
	}
	return parts
}

// complete PUTs the completion and returns the response.
func (e *env) complete(t *testing.T, loc string, d digest.Digest, parts []directPart) (*http.Response, []byte) {
	t.Helper()
	body := mustJSON(t, map[string]any{"parts": parts})
	return e.do(t, "PUT", loc+"?digest="+d.String(), body, map[string]string{"Content-Type": "application/json"})
}

func TestDirectUploadPublishesVerifiedBlob(t *testing.T) {
	for i, tc := range []struct {
		name     string
		size     int
		partSize int
		alg      digest.Algorithm
	}{
		{"one small part", 1000, 5 * mib, digest.SHA256},
		{"two parts, the last small", 5*mib + 1000, 5 * mib, digest.SHA256},
		{"three parts, sha512", 16 * mib, 6 * mib, digest.SHA512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDirectEnv(t, 0, nil)
			data := randBytes(tc.size, uint64(100+i))
			d := tc.alg.FromBytes(data)
			loc := e.startDirect(t, "big/app")
			parts := e.sendParts(t, loc, data, tc.partSize)
			res, body := e.complete(t, loc, d, parts)
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("complete: %d %s", res.StatusCode, body)
			}
			checkHeaders(t, res.Header, map[string]string{
				"Location": "/v2/big/app/blobs/" + d.String(), "Docker-Content-Digest": d.String(), "Berth-Upload-State": "done",
			})
			if got := e.follow(t, "/v2/big/app/blobs/"+d.String()); !bytes.Equal(got, data) {
				t.Fatalf("blob has %d bytes that differ from the %d sent", len(got), len(data))
			}
			res, _ = e.do(t, "GET", loc, nil, nil)
			if res.StatusCode != http.StatusNoContent || res.Header.Get("Berth-Upload-State") != "done" || res.Header.Get("Docker-Content-Digest") != d.String() {
				t.Errorf("status after completion: %d state %q digest %q, want 204 done %s", res.StatusCode, res.Header.Get("Berth-Upload-State"), res.Header.Get("Docker-Content-Digest"), d)
			}
			if res, body := e.complete(t, loc, d, parts); res.StatusCode != http.StatusCreated {
				t.Errorf("repeated completion: %d %s, want 201", res.StatusCode, body)
			}
			if left := e.leftovers(t); len(left) > 0 {
				t.Errorf("upload state left behind: %v", left)
			}
		})
	}
}

func TestDirectUploadVerifiesOverPollsAndHoldsBackManifests(t *testing.T) {
	e := newDirectEnv(t, 2*mib, nil)
	data := randBytes(7*mib, 7)
	d := digest.FromBytes(data)
	loc := e.startDirect(t, "big/app")
	res, body := e.complete(t, loc, d, e.sendParts(t, loc, data, 5*mib))
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("complete: %d %s, want 202 (verification continues)", res.StatusCode, body)
	}
	checkHeaders(t, res.Header, map[string]string{"Berth-Upload-State": "verifying", "Berth-Upload-Verified": "2097152/7340032", "Location": loc})

	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	man := mustJSON(t, oci.Manifest{
		SchemaVersion: 2, MediaType: oci.MediaTypeImageManifest,
		Config: &oci.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: e.pushBlob(t, "big/app", cfg), Size: int64(len(cfg))},
		Layers: []oci.Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: d, Size: int64(len(data))}},
	})
	res, body = e.do(t, "PUT", "/v2/big/app/manifests/v1", man, map[string]string{"Content-Type": oci.MediaTypeImageManifest})
	checkError(t, "PUT", res, body, errcode.ManifestBlobUnknown)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "still being verified") || !strings.Contains(string(body), loc) {
		t.Errorf("manifest naming the verifying blob: %d %s, want 400 saying it is still being verified and where to poll", res.StatusCode, body)
	}
	if res, _ := e.do(t, "HEAD", "/v2/big/app/blobs/"+d.String(), nil, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of the unverified blob: %d, want 404", res.StatusCode)
	}

	var states []string
	for range 10 {
		res, body = e.do(t, "GET", loc, nil, nil)
		states = append(states, fmt.Sprintf("%d %s", res.StatusCode, res.Header.Get("Berth-Upload-Verified")))
		if res.StatusCode != http.StatusAccepted {
			break
		}
	}
	want := []string{"202 4194304/7340032", "202 6291456/7340032", "204 "}
	if strings.Join(states, ",") != strings.Join(want, ",") {
		t.Fatalf("polls answered %q, want %q (last body %s)", states, want, body)
	}
	checkHeaders(t, res.Header, map[string]string{"Berth-Upload-State": "done", "Docker-Content-Digest": d.String()})
	if got := e.follow(t, "/v2/big/app/blobs/"+d.String()); !bytes.Equal(got, data) {
		t.Fatal("verified blob differs from what was sent")
	}
	e.putManifest(t, "big/app", "v1", oci.MediaTypeImageManifest, man)
}

func TestDirectUploadWithTamperedPartFailsAndPublishesNothing(t *testing.T) {
	for _, step := range []int64{0, 3 * mib} {
		t.Run(fmt.Sprintf("verify step %d", step), func(t *testing.T) {
			e := newDirectEnv(t, step, nil)
			data := randBytes(11*mib, 11)
			d := digest.FromBytes(data)
			sent := bytes.Clone(data)
			sent[6*mib+17] ^= 0xff // in the second part
			loc := e.startDirect(t, "big/app")
			res, body := e.complete(t, loc, d, e.sendParts(t, loc, sent, 5*mib))
			for i := 0; res.StatusCode == http.StatusAccepted && i < 10; i++ {
				res, body = e.do(t, "GET", loc, nil, nil)
			}
			checkError(t, "PUT", res, body, errcode.DigestInvalid)
			if res.Header.Get("Berth-Upload-State") != "failed" || !strings.Contains(string(body), d.String()) {
				t.Errorf("tampered upload: %d state %q %s, want DIGEST_INVALID, state failed", res.StatusCode, res.Header.Get("Berth-Upload-State"), body)
			}
			if res, _ := e.do(t, "HEAD", "/v2/big/app/blobs/"+d.String(), nil, nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("HEAD after a failed verification: %d, want 404", res.StatusCode)
			}
			key := strings.TrimPrefix(loc, "/v2/big/app/blobs/uploads/")
			if _, err := os.Stat(filepath.Join(e.dir, "blobs", "objects", "blobs", key)); !os.IsNotExist(err) {
				t.Errorf("the assembled object is still stored (%v)", err)
			}
			if left := e.leftovers(t); len(left) > 0 {
				t.Errorf("upload state left behind: %v", left)
			}
		})
	}
}

func TestDirectUploadRefusals(t *testing.T) {
	e := newDirectEnv(t, 0, nil)
	loc := e.startDirect(t, "r/x")
	data := randBytes(6*mib, 6)
	d := digest.FromBytes(data)
	parts := e.sendParts(t, loc, data, 5*mib)
	badETag := []directPart{parts[0], {2, `"0000"`, parts[1].Size}}
	js := map[string]string{"Content-Type": "application/json"}
	e.run(t, []Case{
		{Description: "PATCH on a direct session → 405 UNSUPPORTED naming the way", Method: "PATCH", URL: loc, Body: []byte("x"), Code: 405, WantErrCode: errcode.Unsupported,
			Check: func(t *testing.T, b []byte) { mustContain(t, b, "?parts=1-N") }},
		{Description: "?parts=0-1 → 400", Method: "GET", URL: loc + "?parts=0-1", Code: 400, WantErrCode: errcode.BlobUploadInvalid},
		{Description: "?parts=1-501 (over 500 a request) → 400", Method: "GET", URL: loc + "?parts=1-501", Code: 400, WantErrCode: errcode.BlobUploadInvalid},
		{Description: "?parts=3 → one URL", Method: "GET", URL: loc + "?parts=3", Code: 200,
			Check: func(t *testing.T, b []byte) { mustContain(t, b, `"number":3`) }},
		{Description: "complete without digest → 400 DIGEST_INVALID", Method: "PUT", URL: loc, Body: mustJSON(t, map[string]any{"parts": parts}), Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "complete with a body that is no part list → 400", Method: "PUT", URL: loc + "?digest=" + d.String(), Body: []byte("raw bytes"), Code: 400, WantErrCode: errcode.BlobUploadInvalid},
		{Description: "part numbers that do not ascend → 400", Method: "PUT", URL: loc + "?digest=" + d.String(), Header: js,
			Body: mustJSON(t, map[string]any{"parts": []directPart{parts[0], parts[0]}}), Code: 400, WantErrCode: errcode.BlobUploadInvalid},
		{Description: "a part under 5 MiB before the last → 400 SIZE_INVALID", Method: "PUT", URL: loc + "?digest=" + d.String(), Header: js,
			Body: mustJSON(t, map[string]any{"parts": []directPart{parts[1], {3, `"x"`, 1}}}), Code: 400, WantErrCode: errcode.SizeInvalid},
		{Description: "an ETag storage does not hold → 400, the session stays open", Method: "PUT", URL: loc + "?digest=" + d.String(), Header: js,
			Body: mustJSON(t, map[string]any{"parts": badETag}), Code: 400, WantErrCode: errcode.BlobUploadInvalid},
		{Description: "status is still uploading", Method: "GET", URL: loc, Code: 204, WantHeader: map[string]string{"Berth-Upload-State": "uploading"}},
		{Description: "the right part list completes", Method: "PUT", URL: loc + "?digest=" + d.String(), Header: js,
			Body: mustJSON(t, map[string]any{"parts": parts}), Code: 201},
		{Description: "completing again with another digest → 400", Method: "PUT", URL: loc + "?digest=" + digest.FromString("x").String(), Header: js,
			Body: mustJSON(t, map[string]any{"parts": parts}), Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "part URLs of a done session → 400", Method: "GET", URL: loc + "?parts=1-2", Code: 400, WantErrCode: errcode.BlobUploadInvalid},
	})
}

func mustContain(t *testing.T, body []byte, want string) {
	t.Helper()
	if !strings.Contains(string(body), want) {
		t.Errorf("body %s lacks %q", body, want)
	}
}

func TestDirectUploadCancel(t *testing.T) {
	e := newDirectEnv(t, 0, nil)
	loc := e.startDirect(t, "r/x")
	e.sendParts(t, loc, randBytes(6*mib, 1), 5*mib)
	if res, body := e.do(t, "DELETE", loc, nil, nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", res.StatusCode, body)
	}
	if res, _ := e.do(t, "GET", loc, nil, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("status after DELETE: %d, want 404", res.StatusCode)
	}
	if left := e.leftovers(t); len(left) > 0 {
		t.Errorf("parts left behind after DELETE: %v", left)
	}
}

// plainStore hides the embedded store's direct-upload methods.
type plainStore struct{ store.BlobStore }

func TestDirectRequestOnStoreWithoutDirectPathGetsOrdinarySession(t *testing.T) {
	e := newDirectEnv(t, 0, func(o *local.Objects) store.BlobStore { return plainStore{o} })
	res, body := e.do(t, "POST", "/v2/r/x/blobs/uploads/?direct=1", nil, nil)
	if res.StatusCode != http.StatusAccepted || res.Header.Get("Berth-Upload-Mode") != "" {
		t.Fatalf("POST ?direct=1: %d mode %q %s, want 202 without Berth-Upload-Mode", res.StatusCode, res.Header.Get("Berth-Upload-Mode"), body)
	}
	loc := res.Header.Get("Location")
	data := randBytes(1000, 2)
	e.patch(t, loc, 0, data)
	if res, body := e.do(t, "PUT", loc+"?digest="+digest.FromBytes(data).String(), nil, nil); res.StatusCode != http.StatusCreated {
		t.Fatalf("commit of the ordinary session: %d %s", res.StatusCode, body)
	}
}

func TestVerificationMarkerIsNoUploadSession(t *testing.T) {
	e := newDirectEnv(t, mib, nil)
	data := randBytes(6*mib, 3)
	d := digest.FromBytes(data)
	loc := e.startDirect(t, "r/x")
	if res, body := e.complete(t, loc, d, e.sendParts(t, loc, data, 5*mib)); res.StatusCode != http.StatusAccepted {
		t.Fatalf("complete: %d %s, want 202", res.StatusCode, body)
	}
	// The marker's id as direct_verify.go derives it from repository
	// and digest.
	sum := sha256.Sum256([]byte("r/x@" + d.String()))
	marker := "verify-" + hex.EncodeToString(sum[:20])
	if u, err := e.meta.GetUpload(t.Context(), marker); err != nil || u.Repo != "r/x" {
		t.Fatalf("marker record %s: %+v, %v", marker, u, err)
	}
	for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
		res, body := e.do(t, m, "/v2/r/x/blobs/uploads/"+marker, []byte("x"), nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s on the marker: %d %s, want 404 BLOB_UPLOAD_UNKNOWN", m, res.StatusCode, body)
		}
	}
}
