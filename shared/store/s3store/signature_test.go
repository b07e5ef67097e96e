package s3store_test

// These tests run against MinIO (shared/emulator), which
// checks what gofakes3 does not: SigV4 signatures, presigned-URL expiry
// and the minimum part size. A presigned URL that is wrongly signed,
// altered or expired must fail there as it fails on AWS.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/emulator"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/s3store"
	"github.com/berth-registry/berth/shared/store/storetest"
)

// openMinIO returns a store on a new bucket in MinIO, created as
// BERTH_INIT=1 creates it (lifecycle rules included).
func openMinIO(t *testing.T) *s3store.Store {
	t.Helper()
	srv := emulator.MinIO(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := s3store.New(srv.Client(), "berth-test-"+hex.EncodeToString(b))
	if err := s.CreateBucket(t.Context()); err != nil {
		t.Fatalf("CreateBucket on MinIO: %v", err)
	}
	return s
}

// TestBlobStoreContractOnMinIO runs the store.BlobStore contract suite
// against a store that checks part sizes and signatures.
func TestBlobStoreContractOnMinIO(t *testing.T) {
	s := openMinIO(t)
	storetest.BlobStore(t, func(*testing.T) store.BlobStore { return s })
}

// send sends one request to a presigned URL and returns the status and
// the S3 error code of the answer ("" for none).
func send(t *testing.T, method, raw string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, raw, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(res.Body)
	code := ""
	if i := bytes.Index(msg, []byte("<Code>")); i >= 0 {
		code, _, _ = strings.Cut(string(msg[i+len("<Code>"):]), "</Code>")
	}
	return res.StatusCode, code
}

// tamper returns raw with its query parameter k changed by change.
func tamper(t *testing.T, raw, k string, change func(string) string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(k, change(q.Get(k)))
	u.RawQuery = q.Encode()
	return u.String()
}

// flipLast changes the last hex digit of a signature.
func flipLast(sig string) string {
	if strings.HasSuffix(sig, "0") {
		return sig[:len(sig)-1] + "1"
	}
	return sig[:len(sig)-1] + "0"
}

func TestPresignedGetIsCheckedByS3(t *testing.T) {
	s := openMinIO(t)
	ctx := t.Context()
	key := "blobs/signed-get"
	data := []byte("layer bytes")
	if err := s.Put(ctx, key, data); err != nil {
		t.Fatal(err)
	}
	good, err := s.PresignGet(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, code := send(t, http.MethodGet, good, nil); status != http.StatusOK {
		t.Fatalf("GET with the presigned URL: %d %s, want 200", status, code)
	}
	if err := s.Put(ctx, "blobs/other", []byte("another repository's layer")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, method, url, want string }{
		{"a changed signature", http.MethodGet, tamper(t, good, "X-Amz-Signature", flipLast), "SignatureDoesNotMatch"},
		{"another key under the same signature", http.MethodGet, strings.Replace(good, "/"+key+"?", "/blobs/other?", 1), "SignatureDoesNotMatch"},
		{"a longer expiry", http.MethodGet, tamper(t, good, "X-Amz-Expires", func(string) string { return "604800" }), "SignatureDoesNotMatch"},
		{"PUT with a GET URL", http.MethodPut, good, "SignatureDoesNotMatch"},
	} {
		if status, code := send(t, c.method, c.url, []byte("x")); status != http.StatusForbidden || code != c.want {
			t.Errorf("%s: %d %s, want 403 %s", c.what, status, code, c.want)
		}
	}
	short, err := s.PresignGet(ctx, key, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if status, code := send(t, http.MethodGet, short, nil); status != http.StatusForbidden || code != "AccessDenied" {
		t.Errorf("GET with an expired presigned URL: %d %s, want 403 AccessDenied (request has expired)", status, code)
	}
}

func TestPresignedPartIsCheckedByS3(t *testing.T) {
	s := openMinIO(t)
	ctx := t.Context()
	key := "blobs/signed-parts"
	id, err := s.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte{'p'}, store.MinPartSize)
	good, err := s.PresignUploadPart(ctx, key, id, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.PresignUploadPart(ctx, key, id, 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, url string }{
		{"a changed signature", tamper(t, good, "X-Amz-Signature", flipLast)},
		{"another part number under the same signature", tamper(t, good, "partNumber", func(string) string { return "3" })},
		{"another upload id under the same signature", tamper(t, good, "uploadId", func(v string) string { return v + "x" })},
	} {
		if status, code := send(t, http.MethodPut, c.url, part); status != http.StatusForbidden || code != "SignatureDoesNotMatch" {
			t.Errorf("PUT part with %s: %d %s, want 403 SignatureDoesNotMatch", c.what, status, code)
		}
	}
	if status, code := send(t, http.MethodPut, good, part); status != http.StatusOK {
		t.Fatalf("PUT part 1 with its presigned URL: %d %s, want 200", status, code)
	}
	time.Sleep(2100 * time.Millisecond)
	if status, code := send(t, http.MethodPut, short, []byte("tail")); status != http.StatusForbidden || code != "AccessDenied" {
		t.Errorf("PUT part 2 with an expired URL: %d %s, want 403 AccessDenied (request has expired)", status, code)
	}
}
