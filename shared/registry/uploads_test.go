package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

const mib = 1 << 20

// startUpload POSTs a new session to repo and returns its Location.
func (e *env) startUpload(t *testing.T, repo string) string {
	t.Helper()
	res, body := e.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, nil)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST upload: %d %s", res.StatusCode, body)
	}
	return res.Header.Get("Location")
}

// patch sends one chunk at offset off and checks the 202 and its Range.
func (e *env) patch(t *testing.T, loc string, off int, chunk []byte) {
	t.Helper()
	cr := fmt.Sprintf("%d-%d", off, off+len(chunk)-1)
	res, body := e.do(t, "PATCH", loc, chunk, map[string]string{"Content-Range": cr, "Content-Type": "application/octet-stream"})
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH %s: %d %s", cr, res.StatusCode, body)
	}
	checkHeaders(t, res.Header, map[string]string{
		"Location": loc, "Range": fmt.Sprintf("0-%d", off+len(chunk)-1), "Docker-Upload-UUID": present,
		"OCI-Chunk-Min-Length": "1048576", "OCI-Chunk-Max-Length": "4194304",
	})
}

// TestChunkedUploads pushes blobs in chunks of sizes around
// store.MinPartSize, so the tail buffering and the multipart path both
// run, and checks the committed blob's bytes and that no upload state is
// left behind.
func TestChunkedUploads(t *testing.T) {
	if store.MinPartSize != 5*mib {
		t.Fatalf("the chunk sizes below assume a 5 MiB minimum part, not %d", store.MinPartSize)
	}
	for i, tc := range []struct {
		name   string
		chunks []int // PATCHed
		final  int   // bytes in the committing PUT
		alg    digest.Algorithm
	}{
		{name: "small chunks stay in the tail", chunks: []int{1000, 2000}, final: 0, alg: digest.SHA256},
		{name: "small chunks and a final PUT body, sha512", chunks: []int{10}, final: 20, alg: digest.SHA512},
		{name: "3+3+1 MiB crosses MinPartSize", chunks: []int{3 * mib, 3 * mib, 1 * mib}, alg: digest.SHA256},
		{name: "3+3 MiB then 1 MiB in the PUT", chunks: []int{3 * mib, 3 * mib}, final: 1 * mib, alg: digest.SHA256},
		{name: "one 6 MiB chunk", chunks: []int{6 * mib}, alg: digest.SHA256},
		{name: "6 MiB then 2 MiB, sha512", chunks: []int{6 * mib, 2 * mib}, alg: digest.SHA512},
		{name: "3+3 MiB then 1 MiB in the PUT, sha512", chunks: []int{3 * mib, 3 * mib}, final: 1 * mib, alg: digest.SHA512},
		{name: "2, 6, 1, 6 and 2 MiB, sha512", chunks: []int{2 * mib, 6 * mib, 1 * mib, 6 * mib, 2 * mib}, alg: digest.SHA512},
		{name: "everything in the PUT", final: 3 * mib, alg: digest.SHA256},
		{name: "an empty blob", alg: digest.SHA256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			total := tc.final
			for _, n := range tc.chunks {
				total += n
			}
			data := randBytes(total, uint64(i))
			want := tc.alg.FromBytes(data)
			loc := e.startUpload(t, "up/load")
			off := 0
			for _, n := range tc.chunks {
				e.patch(t, loc, off, data[off:off+n])
				off += n
				// Upload status reports the same offset.
				res, _ := e.do(t, "GET", loc, nil, nil)
				if res.StatusCode != http.StatusNoContent || res.Header.Get("Range") != fmt.Sprintf("0-%d", off-1) {
					t.Fatalf("status after %d bytes: %d Range %q", off, res.StatusCode, res.Header.Get("Range"))
				}
			}
			res, body := e.do(t, "PUT", loc+"?digest="+want.String(), data[off:], nil)
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("PUT commit: %d %s", res.StatusCode, body)
			}
			checkHeaders(t, res.Header, map[string]string{
				"Location": "/v2/up/load/blobs/" + want.String(), "Docker-Content-Digest": want.String(),
			})
			if got := e.follow(t, "/v2/up/load/blobs/"+want.String()); !bytes.Equal(got, data) {
				t.Fatalf("committed blob has %d bytes that differ from the %d sent", len(got), len(data))
			}
			res, _ = e.do(t, "HEAD", "/v2/up/load/blobs/"+want.String(), nil, nil)
			if res.Header.Get("Content-Length") != strconv.Itoa(total) {
				t.Errorf("HEAD Content-Length %q, want %d", res.Header.Get("Content-Length"), total)
			}
			if res, _ := e.do(t, "GET", loc, nil, nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("session still answers %d after commit", res.StatusCode)
			}
			if left := e.leftovers(t); len(left) > 0 {
				t.Errorf("upload state left behind after commit: %v", left)
			}
		})
	}
}

// s3Abort is a blob store that, like S3, refuses to abort a multipart
// upload that was completed (NoSuchUpload).
type s3Abort struct {
	*local.Objects
	mu        sync.Mutex
	completed map[string]bool
}

func (s *s3Abort) CompleteMultipart(ctx context.Context, key, id string, parts []store.Part) error {
	err := s.Objects.CompleteMultipart(ctx, key, id, parts)
	if err == nil {
		s.mu.Lock()
		s.completed[id] = true
		s.mu.Unlock()
	}
	return err
}

func (s *s3Abort) AbortMultipart(ctx context.Context, key, id string) error {
	s.mu.Lock()
	done := s.completed[id]
	s.mu.Unlock()
	if done {
		return errors.New("NoSuchUpload: the multipart upload was completed")
	}
	return s.Objects.AbortMultipart(ctx, key, id)
}

// TestUploadDigestMismatch: a commit whose bytes do not match ?digest= is
// refused, the session is gone, and nothing of it remains — for sha512
// too, whose state covers only the bytes written as parts: a digest of
// the bytes without the last chunk (the tail) is refused as well.
func TestUploadDigestMismatch(t *testing.T) {
	for _, chunks := range [][]int{{100}, {6 * mib}, {3 * mib, 3 * mib, 1 * mib}, {6 * mib, 1 * mib}} {
		var data []byte
		for i, n := range chunks {
			data = append(data, randBytes(n, uint64(i))...)
		}
		short := data[:len(data)-chunks[len(chunks)-1]]
		for _, wrong := range []digest.Digest{digest.FromString("something else"), digest.SHA512.FromString("something else"),
			digest.SHA512.FromBytes(short), digest.SHA256.FromBytes(short)} {
			t.Run(fmt.Sprint(chunks, wrong.Algorithm(), wrong.Encoded()[:8]), func(t *testing.T) {
				e := newEnvWith(t, func(o *local.Objects) store.BlobStore {
					return &s3Abort{Objects: o, completed: map[string]bool{}}
				})
				loc := e.startUpload(t, "r")
				off := 0
				for _, n := range chunks {
					e.patch(t, loc, off, data[off:off+n])
					off += n
				}
				e.run(t, []Case{
					{Description: "PUT with the wrong digest → 400 DIGEST_INVALID",
						Method: "PUT", URL: loc + "?digest=" + wrong.String(), Code: 400, WantErrCode: errcode.DigestInvalid},
					{Description: "the session is gone → 404 BLOB_UPLOAD_UNKNOWN",
						Method: "GET", URL: loc, Code: 404, WantErrCode: errcode.BlobUploadUnknown},
					{Description: "the blob was not created → 404",
						Method: "HEAD", URL: "/v2/r/blobs/" + wrong.String(), Code: 404},
				})
				if left := e.leftovers(t); len(left) > 0 {
					t.Errorf("upload state left behind: %v", left)
				}
			})
		}
	}
}

// TestUploads covers the rest of "Pushing blobs": session headers, range
// errors, status, cancel, monolithic pushes, mounts, and that a session
// belongs to its repository.
func TestUploads(t *testing.T) {
	e := newEnv(t)
	small := []byte("hello, blob")
	dSmall := digest.FromBytes(small)
	src := e.pushBlob(t, "src/repo", []byte("mount me"))

	loc := e.startUpload(t, "a/repo") // used across the cases below
	id := loc[strings.LastIndex(loc, "/")+1:]
	cancel := e.startUpload(t, "a/repo")
	put := e.startUpload(t, "a/repo")
	other := e.startUpload(t, "a/repo")
	ten := []byte("0123456789")
	range10 := map[string]string{"Content-Range": "0-9"}

	e.run(t, []Case{
		{Description: "POST upload → 202 with Location, Range, UUID and chunk lengths",
			Method: "POST", URL: "/v2/a/repo/blobs/uploads/", Code: 202,
			WantHeader: map[string]string{"Location": present, "Range": "0-0", "Docker-Upload-UUID": present,
				"OCI-Chunk-Min-Length": "1048576", "OCI-Chunk-Max-Length": "4194304"}},
		{Description: "GET status of a new session → 204 Range 0-0",
			Method: "GET", URL: loc, Code: 204, WantHeader: map[string]string{"Range": "0-0", "Location": loc, "Docker-Upload-UUID": id}},
		{Description: "PATCH first chunk → 202 Range 0-9",
			Method: "PATCH", URL: loc, Body: ten, Header: range10, Code: 202, WantHeader: map[string]string{"Range": "0-9", "Location": loc}},
		{Description: "PATCH at the wrong offset → 416 with Range and Location",
			Method: "PATCH", URL: loc, Body: ten, Header: map[string]string{"Content-Range": "5-14"}, Code: 416,
			WantErrCode: errcode.RangeInvalid, WantHeader: map[string]string{"Range": "0-9", "Location": loc}},
		{Description: "PATCH with a Content-Range longer than the body → 416",
			Method: "PATCH", URL: loc, Body: ten, Header: map[string]string{"Content-Range": "10-29"}, Code: 416, WantErrCode: errcode.RangeInvalid},
		{Description: "PATCH with a malformed Content-Range → 416",
			Method: "PATCH", URL: loc, Body: ten, Header: map[string]string{"Content-Range": "bytes=ten"}, Code: 416, WantErrCode: errcode.RangeInvalid},
		{Description: "GET status after a refused chunk → 204 Range 0-9",
			Method: "GET", URL: loc, Code: 204, WantHeader: map[string]string{"Range": "0-9"}},
		{Description: "PATCH the next chunk → 202 Range 0-19",
			Method: "PATCH", URL: loc, Body: ten, Header: map[string]string{"Content-Range": "10-19"}, Code: 202, WantHeader: map[string]string{"Range": "0-19"}},
		{Description: "PATCH without Content-Range (streamed) → 202 Range 0-29",
			Method: "PATCH", URL: loc, Body: ten, Code: 202, WantHeader: map[string]string{"Range": "0-29"}},
		{Description: "PUT commit with a chunk at the wrong offset → 416",
			Method: "PUT", URL: loc + "?digest=" + dSmall.String(), Body: ten, Header: range10, Code: 416, WantErrCode: errcode.RangeInvalid},
		{Description: "PUT commit without ?digest= → 400 DIGEST_INVALID",
			Method: "PUT", URL: loc, Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "PUT commit of the 30 bytes → 201",
			Method: "PUT", URL: loc + "?digest=" + digest.FromBytes(bytes.Repeat(ten, 3)).String(), Code: 201,
			WantHeader: map[string]string{"Docker-Content-Digest": digest.FromBytes(bytes.Repeat(ten, 3)).String()}},
		{Description: "PATCH a committed session → 404 BLOB_UPLOAD_UNKNOWN",
			Method: "PATCH", URL: loc, Body: ten, Code: 404, WantErrCode: errcode.BlobUploadUnknown},

		{Description: "DELETE a session → 204", Method: "DELETE", URL: cancel, Code: 204},
		{Description: "GET a cancelled session → 404 BLOB_UPLOAD_UNKNOWN",
			Method: "GET", URL: cancel, Code: 404, WantErrCode: errcode.BlobUploadUnknown},
		{Description: "DELETE a cancelled session → 404 BLOB_UPLOAD_UNKNOWN",
			Method: "DELETE", URL: cancel, Code: 404, WantErrCode: errcode.BlobUploadUnknown},
		{Description: "GET an unknown session → 404 BLOB_UPLOAD_UNKNOWN",
			Method: "GET", URL: "/v2/a/repo/blobs/uploads/nosuchid", Code: 404, WantErrCode: errcode.BlobUploadUnknown},

		{Description: "GET repo A's session via repo B → 404 BLOB_UPLOAD_UNKNOWN",
			Method: "GET", URL: strings.Replace(other, "/a/repo/", "/b/repo/", 1), Code: 404, WantErrCode: errcode.BlobUploadUnknown},
		{Description: "PATCH repo A's session via repo B → 404 BLOB_UPLOAD_UNKNOWN",
			Method: "PATCH", URL: strings.Replace(other, "/a/repo/", "/b/repo/", 1), Body: ten, Code: 404, WantErrCode: errcode.BlobUploadUnknown},
		{Description: "PUT repo A's session via repo B → 404 BLOB_UPLOAD_UNKNOWN",
			Method: "PUT", URL: strings.Replace(other, "/a/repo/", "/b/repo/", 1) + "?digest=" + dSmall.String(), Body: small, Code: 404, WantErrCode: errcode.BlobUploadUnknown},
		{Description: "DELETE repo A's session via repo B → 404 BLOB_UPLOAD_UNKNOWN",
			Method: "DELETE", URL: strings.Replace(other, "/a/repo/", "/b/repo/", 1), Code: 404, WantErrCode: errcode.BlobUploadUnknown},
		{Description: "repo B got nothing → HEAD 404",
			Method: "HEAD", URL: "/v2/b/repo/blobs/" + dSmall.String(), Code: 404},
		{Description: "repo A's session still works after B's attempts → 204 Range 0-0",
			Method: "GET", URL: other, Code: 204, WantHeader: map[string]string{"Range": "0-0"}},

		{Description: "monolithic PUT after POST → 201",
			Method: "PUT", URL: put + "?digest=" + dSmall.String(), Body: small, Code: 201,
			WantHeader: map[string]string{"Location": "/v2/a/repo/blobs/" + dSmall.String(), "Docker-Content-Digest": dSmall.String()}},
		{Description: "monolithic POST ?digest= → 201",
			Method: "POST", URL: "/v2/m/repo/blobs/uploads/?digest=" + dSmall.String(), Body: small, Code: 201,
			WantHeader: map[string]string{"Location": "/v2/m/repo/blobs/" + dSmall.String(), "Docker-Content-Digest": dSmall.String()}},
		{Description: "HEAD the monolithically pushed blob → 200",
			Method: "HEAD", URL: "/v2/m/repo/blobs/" + dSmall.String(), Code: 200, WantHeader: map[string]string{"Content-Length": strconv.Itoa(len(small))}},
		{Description: "monolithic POST with the wrong digest → 400 DIGEST_INVALID",
			Method: "POST", URL: "/v2/w/repo/blobs/uploads/?digest=" + digest.FromString("other").String(), Body: small, Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "monolithic POST with a malformed digest → 400 DIGEST_INVALID",
			Method: "POST", URL: "/v2/w/repo/blobs/uploads/?digest=sha256:xyz", Body: small, Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "nothing was created by the refused POSTs → HEAD 404",
			Method: "HEAD", URL: "/v2/w/repo/blobs/" + digest.FromString("other").String(), Code: 404},

		{Description: "mount from a repository holding the blob → 201",
			Method: "POST", URL: "/v2/dst/repo/blobs/uploads/?mount=" + src.String() + "&from=src/repo", Code: 201,
			WantHeader: map[string]string{"Location": "/v2/dst/repo/blobs/" + src.String(), "Docker-Content-Digest": src.String()}},
		{Description: "the mounted blob is readable in the target → HEAD 200",
			Method: "HEAD", URL: "/v2/dst/repo/blobs/" + src.String(), Code: 200},
		{Description: "mount from a repository lacking the blob → 202 new session",
			Method: "POST", URL: "/v2/dst2/blobs/uploads/?mount=" + src.String() + "&from=a/repo", Code: 202,
			WantHeader: map[string]string{"Location": present, "Docker-Upload-UUID": present}},
		{Description: "a mount that fell back links nothing → HEAD 404",
			Method: "HEAD", URL: "/v2/dst2/blobs/" + src.String(), Code: 404},
		{Description: "mount of an unknown digest → 202 new session",
			Method: "POST", URL: "/v2/dst2/blobs/uploads/?mount=" + digest.FromString("unknown").String() + "&from=src/repo", Code: 202},
		{Description: "mount without from, blob not in the target → 202 new session",
			Method: "POST", URL: "/v2/dst2/blobs/uploads/?mount=" + src.String(), Code: 202},
		{Description: "mount with a malformed digest → 400 DIGEST_INVALID",
			Method: "POST", URL: "/v2/dst2/blobs/uploads/?mount=sha256:xyz&from=src/repo", Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "POST upload with an invalid name → 400 NAME_INVALID",
			Method: "POST", URL: "/v2/Bad/blobs/uploads/", Code: 400, WantErrCode: errcode.NameInvalid},
		{Description: "PATCH upload with an invalid name → 400 NAME_INVALID",
			Method: "PATCH", URL: "/v2/a/Repo/blobs/uploads/" + id, Body: ten, Code: 400, WantErrCode: errcode.NameInvalid},
	})
}
