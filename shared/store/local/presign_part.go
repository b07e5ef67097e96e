package local

// Direct uploads (docs/direct-uploads.md) on the embedded store: signed
// PUT URLs for multipart parts, served by ServeHTTP as S3 serves a
// presigned UploadPart, and the streaming read that verifies an
// assembled object's digest.

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// MaxPartSize is S3's largest multipart part (5 GiB); a signed part PUT
// over it is refused as S3 refuses it.
const MaxPartSize = 5 << 30

func (o *Objects) signPart(key, uploadID string, n int, exp int64) string {
	mac := hmac.New(sha256.New, o.key)
	fmt.Fprintf(mac, "PUT\n%s\n%s\n%d\n%d", key, uploadID, n, exp)
	return hex.EncodeToString(mac.Sum(nil))
}

// PresignUploadPart returns a gateway-relative URL that accepts PUTs of
// part n of multipart upload uploadID at key until ttl passes: the
// embedded stand-in for S3's presigned UploadPart. The query names
// follow S3's (partNumber, uploadId).
func (o *Objects) PresignUploadPart(_ context.Context, key, uploadID string, n int, ttl time.Duration) (string, error) {
	if _, err := o.path(key); err != nil {
		return "", err
	}
	if _, err := o.partDir(uploadID); err != nil {
		return "", err
	}
	if n < 1 || n > 10000 {
		return "", fmt.Errorf("part number %d out of range 1..10000", n)
	}
	exp := o.now().Add(ttl).Unix()
	q := url.Values{
		"partNumber": {strconv.Itoa(n)}, "uploadId": {uploadID},
		"expires": {strconv.FormatInt(exp, 10)}, "signature": {o.signPart(key, uploadID, n, exp)},
	}
	return ObjectPathPrefix + key + "?" + q.Encode(), nil
}

// servePart stores the body of a PUT to a URL made by PresignUploadPart
// as that part, and answers its ETag as S3 does. Like S3 it wants a
// Content-Length (411 without one) and refuses parts over MaxPartSize;
// a PUT to any other URL is 405.
func (o *Objects) servePart(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, ObjectPathPrefix)
	q := r.URL.Query()
	uploadID := q.Get("uploadId")
	if uploadID == "" || !q.Has("partNumber") {
		// Not a part URL: objects themselves are written by the registry.
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	n, nerr := strconv.Atoi(q.Get("partNumber"))
	exp, eerr := strconv.ParseInt(q.Get("expires"), 10, 64)
	if nerr != nil || eerr != nil || !hmac.Equal([]byte(o.signPart(key, uploadID, n, exp)), []byte(q.Get("signature"))) {
		http.Error(w, "signature does not match", http.StatusForbidden)
		return
	}
	if o.now().Unix() > exp {
		http.Error(w, "request has expired", http.StatusForbidden)
		return
	}
	switch {
	case r.ContentLength < 0:
		http.Error(w, "a part needs a Content-Length", http.StatusLengthRequired)
		return
	case r.ContentLength > MaxPartSize:
		http.Error(w, "part is over the 5 GiB maximum", http.StatusBadRequest)
		return
	}
	d, err := o.partDir(uploadID)
	if err != nil {
		http.Error(w, "bad upload id", http.StatusBadRequest)
		return
	}
	if k, err := os.ReadFile(filepath.Join(d, "key")); err != nil || string(k) != key {
		http.Error(w, "no such upload", http.StatusNotFound)
		return
	}
	tag, err := o.writePart(d, n, io.LimitReader(r.Body, r.ContentLength), r.ContentLength)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		http.Error(w, "body is shorter than its Content-Length", http.StatusBadRequest)
		return
	} else if err != nil {
		http.Error(w, "cannot store the part", http.StatusInternalServerError)
		return
	}
	w.Header().Set("ETag", tag)
	w.WriteHeader(http.StatusOK)
}

// writePart streams size bytes from body into part n under dir,
// replacing it atomically, and returns its ETag (as UploadPart makes it).
func (o *Objects) writePart(dir string, n int, body io.Reader, size int64) (string, error) {
	f, err := os.CreateTemp(filepath.Join(o.dir, "tmp"), "part-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	h := md5.New()
	copied, err := io.Copy(io.MultiWriter(f, h), body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if copied != size {
		return "", io.ErrUnexpectedEOF
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, strconv.Itoa(n))); err != nil {
		return "", err
	}
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`, nil
}

// OpenObject streams the object at key from byte offset on (the
// registry reads an assembled direct upload once, to verify its digest).
func (o *Objects) OpenObject(_ context.Context, key string, offset int64) (io.ReadCloser, error) {
	p, err := o.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("object %s: %w", key, store.ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
