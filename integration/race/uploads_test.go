package race

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
)

// commits are the racers of two commits of one session.
func commits(e *env, loc string, a, b []byte) []racer {
	put := func(body []byte) func() response {
		return func() response {
			return e.do("PUT", loc+"?digest="+digest.FromBytes(body).String(), body, "Content-Type", "application/octet-stream")
		}
	}
	return []racer{{"PUT a", put(a)}, {"PUT b", put(b)}}
}

// checkRepushed pushes bytes again to another repository, as another
// tenancy's later push of the same content would, and pulls them there:
// a poisoned blob record shows here.
func (e *env) checkRepushed(b []byte) error {
	d := digest.FromBytes(b)
	if r := e.do("POST", "/v2/dev/race/later/blobs/uploads/?digest="+d.String(), b); r.status != 201 {
		return fmt.Errorf("pushing %s again elsewhere: %s", d, r)
	}
	if err := e.checkBlob("dev/race/later", d, true); err != nil {
		return fmt.Errorf("after pushing it again elsewhere: %w", err)
	}
	return nil
}

// TestRaceCommitVsCommit: two PUTs complete one session with different
// bytes (seen: both answered 201, both digests named one object, and a
// later push of the larger by anyone served the smaller). A session
// commits at most once.
func TestRaceCommitVsCommit(t *testing.T) {
	run(t, pair{name: "commit vs commit (different digests)", setup: func(t *testing.T, e *env, i int) round {
		const repo = "dev/race/commit"
		loc := e.session(t, repo, "")
		a, b := random(64<<10), random(43)
		return round{racers: commits(e, loc, a, b), check: func(rs []response) error {
			var errs []error
			if len(only(rs, 201)) > 1 {
				errs = append(errs, errors.New("the session committed twice"))
			}
			for k, body := range [][]byte{a, b} {
				d := digest.FromBytes(body)
				errs = append(errs, e.checkBlob(repo, d, rs[k].status == 201))
				if rs[k].status == 201 {
					errs = append(errs, e.checkRepushed(body))
				}
			}
			return errors.Join(errs...)
		}}
	}})
}

// TestRaceCommitVsCommitSameDigest: a client's PUT and its retry.
func TestRaceCommitVsCommitSameDigest(t *testing.T) {
	run(t, pair{name: "commit vs commit (same digest)", setup: func(t *testing.T, e *env, i int) round {
		const repo = "dev/race/retry"
		loc := e.session(t, repo, "")
		a := random(64 << 10)
		return round{racers: commits(e, loc, a, a), check: func(rs []response) error {
			if len(only(rs, 201)) == 0 {
				return errors.New("neither commit went through")
			}
			return errors.Join(e.checkBlob(repo, digest.FromBytes(a), true), e.checkRepushed(a))
		}}
	}})
}

// checkCancel is the invariant of a commit racing a cancel: exactly one
// wins; a winning cancel leaves no blob and no object, a winning commit
// a blob that verifies.
func (e *env) checkCancel(t *testing.T, repo, key string, d digest.Digest, commit, cancel response) error {
	switch committed, cancelled := commit.status == 201, cancel.status == 204; {
	case committed && cancelled:
		return errors.New("both the commit and the cancel answered success")
	case !committed && !cancelled:
		return errors.New("neither the commit nor the cancel won")
	case cancelled:
		if h := e.do("HEAD", "/v2/"+repo+"/blobs/"+d.String(), nil); h.status != 404 {
			return fmt.Errorf("the cancel won, yet HEAD %s answers %s", d, h)
		}
		if e.storage(t, key) {
			return fmt.Errorf("the cancel won, yet object %s is left", key)
		}
		return nil
	}
	return e.checkBlob(repo, d, true)
}

// TestRaceCommitVsCancel: the PUT that completes a chunked session and
// a DELETE of it.
func TestRaceCommitVsCancel(t *testing.T) {
	run(t, pair{name: "commit vs cancel", setup: func(t *testing.T, e *env, i int) round {
		const repo = "dev/race/cancel"
		loc := e.session(t, repo, "")
		body := random(64 << 10)
		d := digest.FromBytes(body)
		e.must(t, 202, "PATCH", loc, body, "Content-Range", "0-"+strconv.Itoa(len(body)-1))
		return round{
			racers: []racer{
				{"PUT", func() response { return e.do("PUT", loc+"?digest="+d.String(), nil) }},
				{"DELETE", func() response { return e.do("DELETE", loc, nil) }},
			},
			check: func(rs []response) error {
				return e.checkCancel(t, repo, "blobs/"+uploadID(loc), d, rs[0], rs[1])
			},
		}
	}})
}

// TestRaceCancelVsVerify: a direct upload's completing PUT (which
// assembles and verifies it), a status poll (which verifies too) and a
// DELETE of it (seen: the PUT answered
// 500, the blob HEADed 200 and GET 404, and later uploads of the same
// bytes by anyone got 201 and then 404 on pull).
func TestRaceCancelVsVerify(t *testing.T) {
	run(t, pair{name: "cancel vs verify (direct upload)", setup: func(t *testing.T, e *env, i int) round {
		const repo = "dev/race/direct"
		loc := e.session(t, repo, "?direct=1")
		body := random(100 << 10)
		d := digest.FromBytes(body)
		etag := e.directPart(t, loc, body)
		parts := fmt.Appendf(nil, `{"parts":[{"number":1,"etag":%q,"size":%d}]}`, etag, len(body))
		return round{
			racers: []racer{
				{"PUT", func() response {
					return e.do("PUT", loc+"?digest="+d.String(), parts, "Content-Type", "application/json")
				}},
				{"DELETE", func() response { return e.do("DELETE", loc, nil) }},
				{"GET", func() response { return e.do("GET", loc, nil) }}, // a poll verifies too
			},
			check: func(rs []response) error {
				err := e.checkCancel(t, repo, "blobs/"+uploadID(loc), d, rs[0], rs[1])
				return errors.Join(err, e.checkRepushed(body))
			},
		}
	}})
}

// directPart sends body as part 1 of a direct session, straight to
// storage, and returns its ETag.
func (e *env) directPart(t *testing.T, loc string, body []byte) string {
	t.Helper()
	r := e.must(t, 200, "GET", loc+"?parts=1", nil)
	var urls struct {
		Parts []struct{ URL string } `json:"parts"`
	}
	if err := json.Unmarshal(r.body, &urls); err != nil || len(urls.Parts) != 1 {
		t.Fatalf("part URLs: %v %s", err, r.body)
	}
	req, err := http.NewRequest("PUT", urls.Parts[0].URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Body, req.ContentLength = readCloser(body), int64(len(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("PUT part to storage: %v %v", err, res)
	}
	res.Body.Close()
	return res.Header.Get("ETag")
}

// TestRacePatchVsPatch: two chunks sent at the same offset of one
// session: one continues it, the other gets the spec's error, and the
// session then commits the winner's bytes.
func TestRacePatchVsPatch(t *testing.T) {
	run(t, pair{name: "PATCH vs PATCH at one offset", setup: func(t *testing.T, e *env, i int) round {
		const repo = "dev/race/patch"
		loc := e.session(t, repo, "")
		a, b := random(32<<10), random(32<<10)
		patch := func(body []byte) func() response {
			return func() response {
				return e.do("PATCH", loc, body, "Content-Range", "0-"+strconv.Itoa(len(body)-1), "Content-Type", "application/octet-stream")
			}
		}
		return round{
			racers: []racer{{"PATCH a", patch(a)}, {"PATCH b", patch(b)}},
			check: func(rs []response) error {
				won := only(rs, 202)
				if len(won) != 1 {
					return fmt.Errorf("%d chunks at one offset were accepted", len(won))
				}
				body := [][]byte{a, b}[won[0]]
				d := digest.FromBytes(body)
				if r := e.do("PUT", loc+"?digest="+d.String(), nil); r.status != 201 {
					return fmt.Errorf("committing the accepted chunk: %s %s", r, r.body)
				}
				return e.checkBlob(repo, d, true)
			},
		}
	}})
}
