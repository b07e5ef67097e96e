package s3store_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// TestPresignUploadPart checks the part URL's fields (the emulator
// accepts any signature) — only the host signed, no checksum baked in,
// which would make S3 refuse a part with other bytes than at signing —
// then PUTs parts through it, completes with the ETags S3 answered, and
// reads the object back from an offset.
func TestPresignUploadPart(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	key := "blobs/direct-upload"
	id, err := s.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	data := [][]byte{bytes.Repeat([]byte{'p'}, store.MinPartSize), []byte("tail of the blob")}
	var parts []store.Part
	for i, body := range data {
		n := i + 1
		raw, err := s.PresignUploadPart(ctx, key, id, n, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		for _, c := range []struct{ what, got, want string }{
			{"path", u.Path, "/" + s.Bucket() + "/" + key},
			{"partNumber", q.Get("partNumber"), strconv.Itoa(n)},
			{"uploadId", q.Get("uploadId"), id},
			{"X-Amz-Expires", q.Get("X-Amz-Expires"), "3600"},
			{"X-Amz-SignedHeaders", q.Get("X-Amz-SignedHeaders"), "host"},
		} {
			if c.got != c.want {
				t.Errorf("part %d: %s = %q, want %q (URL %s)", n, c.what, c.got, c.want, raw)
			}
		}
		for k := range q {
			if lk := strings.ToLower(k); strings.Contains(lk, "checksum") || lk == "content-md5" {
				t.Errorf("part URL carries %s=%s: S3 would refuse other bytes than signed", k, q.Get(k))
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, raw, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == "" {
			t.Fatalf("PUT part %d: %d %s (ETag %q)", n, res.StatusCode, msg, res.Header.Get("ETag"))
		}
		parts = append(parts, store.Part{Number: n, ETag: res.Header.Get("ETag"), Size: int64(len(body))})
	}
	if err := s.CompleteMultipart(ctx, key, id, parts); err != nil {
		t.Fatalf("complete with the answered ETags: %v", err)
	}
	rc, err := s.OpenObject(ctx, key, int64(len(data[0])-2))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if want := append([]byte("pp"), data[1]...); err != nil || !bytes.Equal(got, want) {
		t.Errorf("OpenObject near the end read %q (%v), want %q", got, err, want)
	}
	if _, err := s.OpenObject(ctx, "blobs/missing", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenObject of a missing key: %v, want store.ErrNotFound", err)
	}
	for _, bad := range []time.Duration{0, 8 * 24 * time.Hour} {
		if _, err := s.PresignUploadPart(ctx, key, id, 1, bad); err == nil {
			t.Errorf("PresignUploadPart with expiry %v succeeded, want an error", bad)
		}
	}
}
