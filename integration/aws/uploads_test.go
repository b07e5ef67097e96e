package aws

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/backend"
)

const mib = 1 << 20

// session is one upload through the gateway.
type session struct {
	e   *env
	loc string // /v2/<repo>/blobs/uploads/<id>
	off int
}

func (e *env) startSession(t *testing.T, repo string) *session {
	t.Helper()
	res, body := e.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, nil)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST upload: %d %s", res.StatusCode, body)
	}
	return &session{e: e, loc: res.Header.Get("Location")}
}

func (s *session) id() string { return s.loc[strings.LastIndex(s.loc, "/")+1:] }

// patch sends a chunk, with Content-Range when chunked (as regctl does)
// or streamed without it (as docker does).
func (s *session) patch(t *testing.T, data []byte, chunked bool) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/octet-stream"}
	if chunked {
		h["Content-Range"] = fmt.Sprintf("%d-%d", s.off, s.off+len(data)-1)
	}
	res, body := s.e.do(t, "PATCH", s.loc, data, h)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH %d bytes at %d: %d %s", len(data), s.off, res.StatusCode, body)
	}
	s.off += len(data)
}

func randBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// pending lists the multipart upload ids and upload-tail keys in the
// bucket.
func (e *env) pending(t *testing.T) (multiparts, tails []string) {
	t.Helper()
	ups, err := e.stores.S3.Multiparts(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		multiparts = append(multiparts, u.UploadID)
	}
	objs, err := e.stores.S3.Objects(t.Context(), "uploads/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		tails = append(tails, o.Key)
	}
	slices.Sort(multiparts)
	slices.Sort(tails)
	return multiparts, tails
}

// TestAbandonedAndCancelledUploadsLeaveNothing: a cancelled upload's
// parts are aborted at once; what abandoned uploads (and superseded
// tails) leave is removed by SweepUploads — nothing a live session
// still needs while it lives, everything once it has expired — and a
// committed blob is untouched.
func TestAbandonedAndCancelledUploadsLeaveNothing(t *testing.T) {
	e := startAWS(t, false)
	ctx := t.Context()
	repo := "sweep/me"

	cancelled := e.startSession(t, repo)
	cancelled.patch(t, randBytes(3*mib, 1), true)
	cancelled.patch(t, randBytes(3*mib, 2), true) // 6 MiB: a part
	if res, body := e.do(t, "DELETE", cancelled.loc, nil, nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE upload: %d %s", res.StatusCode, body)
	}

	withPart := e.startSession(t, repo) // abandoned: a part and a tail
	withPart.patch(t, randBytes(3*mib, 3), true)
	withPart.patch(t, randBytes(3*mib, 4), true)
	withPart.patch(t, randBytes(1*mib, 5), true)
	streamed := e.startSession(t, repo) // abandoned: a tail, no multipart
	streamed.patch(t, randBytes(100<<10, 6), false)
	small := e.startSession(t, repo) // abandoned: a tail and an empty multipart
	small.patch(t, randBytes(1*mib, 7), true)

	committed := e.startSession(t, repo)
	blob := randBytes(7*mib, 8)
	committed.patch(t, blob[:3*mib], true)
	committed.patch(t, blob[3*mib:6*mib], true)
	d := digest.FromBytes(blob)
	res, body := e.do(t, "PUT", committed.loc+"?digest="+d.String(), blob[6*mib:], map[string]string{
		"Content-Range": fmt.Sprintf("%d-%d", 6*mib, len(blob)-1)})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT commit: %d %s", res.StatusCode, body)
	}

	// What live sessions need: their multipart uploads and current tails.
	var wantMultiparts, wantTails []string
	for _, s := range []*session{withPart, streamed, small} {
		u, err := e.stores.Meta.GetUpload(ctx, s.id())
		if err != nil {
			t.Fatalf("session %s: %v", s.id(), err)
		}
		if u.MultipartID != "" {
			wantMultiparts = append(wantMultiparts, u.MultipartID)
		}
		if u.TailKey != "" {
			wantTails = append(wantTails, u.TailKey)
		}
	}
	slices.Sort(wantMultiparts)
	slices.Sort(wantTails)
	if len(wantMultiparts) != 2 || len(wantTails) != 3 {
		t.Fatalf("live sessions hold multiparts %q and tails %q; want 2 and 3", wantMultiparts, wantTails)
	}

	now := time.Now()
	if n, err := e.stores.SweepUploads(ctx, now); err != nil || n != 0 {
		t.Fatalf("SweepUploads(now) = %d, %v; want nothing removed (all within %v)", n, err, backend.SweepGrace)
	}
	// Past the grace period, sessions still live: only what no live
	// session points at goes (the cancelled one's and superseded tails).
	if _, err := e.stores.SweepUploads(ctx, now.Add(backend.SweepGrace+time.Minute)); err != nil {
		t.Fatal(err)
	}
	mps, tails := e.pending(t)
	if !slices.Equal(mps, wantMultiparts) || !slices.Equal(tails, wantTails) {
		t.Fatalf("after sweeping with live sessions:\n multiparts %q\n      want %q\n tails %q\n  want %q", mps, wantMultiparts, tails, wantTails)
	}
	// Once the sessions have expired (24 h after their last request),
	// nothing is left.
	n, err := e.stores.SweepUploads(ctx, now.Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if mps, tails := e.pending(t); len(mps)+len(tails) != 0 {
		t.Fatalf("after sweeping expired sessions (%d removed): multiparts %q, tails %q left", n, mps, tails)
	}

	// The committed blob is whole, served from S3 by the redirect.
	res, _ = e.do(t, "GET", "/v2/"+repo+"/blobs/"+d.String(), nil, nil)
	if res.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("GET blob: %d, want 307", res.StatusCode)
	}
	got, err := http.Get(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	b, _ := io.ReadAll(got.Body)
	if !bytes.Equal(b, blob) {
		t.Fatalf("committed blob: got %d bytes that differ from the %d pushed", len(b), len(blob))
	}
}
