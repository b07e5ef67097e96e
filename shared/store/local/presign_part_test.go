package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// putPart PUTs body to a signed part URL through ServeHTTP.
func putPart(o *Objects, target string, body []byte, length int64) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPut, target, bytes.NewReader(body))
	req.ContentLength = length
	rec := httptest.NewRecorder()
	o.ServeHTTP(rec, req)
	return rec
}

func TestSignedPartPUTsAssembleIntoTheObject(t *testing.T) {
	o, _ := openTestObjects(t)
	ctx := context.Background()
	key := "blobs/direct-1"
	id, err := o.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Repeat([]byte{'a'}, store.MinPartSize)
	last := []byte("the last part may be small")
	var parts []store.Part
	for i, data := range [][]byte{first, last} {
		u, err := o.PresignUploadPart(ctx, key, id, i+1, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u, ObjectPathPrefix+key+"?") {
			t.Fatalf("part URL %q is not under %s%s", u, ObjectPathPrefix, key)
		}
		rec := putPart(o, u, data, int64(len(data)))
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") == "" {
			t.Fatalf("PUT part %d: %d %q, ETag %q", i+1, rec.Code, rec.Body, rec.Header().Get("ETag"))
		}
		parts = append(parts, store.Part{Number: i + 1, ETag: rec.Header().Get("ETag"), Size: int64(len(data))})
	}
	if err := o.CompleteMultipart(ctx, key, id, parts); err != nil {
		t.Fatalf("complete with the ETags the PUTs answered: %v", err)
	}
	rc, err := o.OpenObject(ctx, key, int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, last) {
		t.Errorf("OpenObject at offset %d read %q, want %q", len(first), got, last)
	}
}

func TestSignedPartPUTRefusals(t *testing.T) {
	o, _ := openTestObjects(t)
	ctx := context.Background()
	key := "blobs/direct-2"
	id, err := o.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	good, err := o.PresignUploadPart(ctx, key, id, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	getURL := presign(t, o, key, time.Hour)
	other, err := o.CreateMultipart(ctx, "blobs/other")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("part")
	tests := []struct {
		name   string
		target string
		length int64
		want   int
	}{
		{"another part number than signed → 403", strings.Replace(good, "partNumber=1", "partNumber=2", 1), 4, http.StatusForbidden},
		{"another upload than signed → 403", strings.Replace(good, "uploadId="+id, "uploadId="+other, 1), 4, http.StatusForbidden},
		{"a GET URL used to PUT → 405", getURL, 4, http.StatusMethodNotAllowed},
		{"no Content-Length → 411, as S3 answers", good, -1, http.StatusLengthRequired},
		{"body shorter than its Content-Length → 400", good, 10, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if rec := putPart(o, tc.target, body, tc.length); rec.Code != tc.want {
				t.Errorf("PUT: %d %q, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
	t.Run("aborted upload → 404", func(t *testing.T) {
		if err := o.AbortMultipart(ctx, key, id); err != nil {
			t.Fatal(err)
		}
		if rec := putPart(o, good, body, 4); rec.Code != http.StatusNotFound {
			t.Errorf("PUT after abort: %d %q, want 404", rec.Code, rec.Body)
		}
	})
}

func TestSignedPartURLExpires(t *testing.T) {
	o, _ := openTestObjects(t)
	ctx := context.Background()
	id, err := o.CreateMultipart(ctx, "blobs/direct-3")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	o.now = func() time.Time { return now }
	u, err := o.PresignUploadPart(ctx, "blobs/direct-3", id, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	o.now = func() time.Time { return now.Add(2 * time.Minute) }
	if rec := putPart(o, u, []byte("x"), 1); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "expired") {
		t.Errorf("PUT after expiry: %d %q, want 403 expired", rec.Code, rec.Body)
	}
}

func TestOpenObjectOfMissingKeyIsNotFound(t *testing.T) {
	o, _ := openTestObjects(t)
	if _, err := o.OpenObject(context.Background(), "blobs/none", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenObject of a missing key: %v, want store.ErrNotFound", err)
	}
}
