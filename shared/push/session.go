package push

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// The extension's wire names (docs/direct-uploads.md; the registry side
// is shared/registry/direct.go).
const (
	headerUploadMode  = "Berth-Upload-Mode"
	headerUploadState = "Berth-Upload-State"
	stateUploading    = "uploading"
	stateVerifying    = "verifying"
	stateDone         = "done"
	stateFailed       = "failed"
	// urlBatch is how many part URLs one request asks for.
	urlBatch = 64
)

// Session is an upload session in a repository: direct (parts go
// straight to storage) or, when the registry does not offer direct
// uploads, an ordinary one.
type Session struct {
	c    *Client
	Repo string
	// Location is the session's URL as the registry answered it.
	Location string
	// Direct says the registry opened a direct session.
	Direct bool
	// ChunkMax is the registry's OCI-Chunk-Max-Length (0: not given).
	ChunkMax int64

	mu   sync.Mutex
	urls map[int]string
}

// Part is an uploaded part, as a completion lists it.
type Part struct {
	Number int    `json:"number"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
}

// Start opens a session in repo, asking for a direct one.
func (c *Client) Start(ctx context.Context, repo string) (*Session, error) {
	res, err := c.Do(ctx, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?direct=1", nil, nil, repo)
	if err != nil {
		return nil, err
	}
	defer drain(res)
	if res.StatusCode != http.StatusAccepted {
		return nil, responseError(res, "start an upload in "+repo)
	}
	s := &Session{c: c, Repo: repo, Location: res.Header.Get("Location"), Direct: res.Header.Get(headerUploadMode) == "direct"}
	s.ChunkMax, _ = strconv.ParseInt(res.Header.Get("OCI-Chunk-Max-Length"), 10, 64)
	if s.Location == "" {
		return nil, fmt.Errorf("the registry opened an upload in %s without a Location", repo)
	}
	return s, nil
}

// Resume returns the session at location and its state ("uploading",
// "verifying", "done"), or an error when it is gone or failed.
func (c *Client) Resume(ctx context.Context, repo, location string) (*Session, string, error) {
	res, err := c.Do(ctx, http.MethodGet, location, nil, nil, repo)
	if err != nil {
		return nil, "", err
	}
	defer drain(res)
	if res.StatusCode >= 300 {
		return nil, "", responseError(res, "resume the upload "+location)
	}
	s := &Session{c: c, Repo: repo, Location: location, Direct: res.Header.Get(headerUploadMode) == "direct"}
	return s, res.Header.Get(headerUploadState), nil
}

// url returns the session URL with query q added.
func (s *Session) url(q url.Values) string {
	u := s.c.URL(s.Location)
	if len(q) == 0 {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + q.Encode()
}

// PartURL returns the presigned URL of part n, asking the registry for
// a batch of URLs from n on when it has none (or fresh reports that the
// one it has failed).
func (s *Session) PartURL(ctx context.Context, n, last int, fresh bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.urls[n]; ok && !fresh {
		return u, nil
	}
	to := min(last, n+urlBatch-1)
	res, err := s.c.Do(ctx, http.MethodGet, s.url(url.Values{"parts": {fmt.Sprintf("%d-%d", n, to)}}), nil, nil, s.Repo)
	if err != nil {
		return "", err
	}
	defer drain(res)
	if res.StatusCode != http.StatusOK {
		return "", responseError(res, "get part URLs")
	}
	var out struct {
		Parts []struct {
			Number int    `json:"number"`
			URL    string `json:"url"`
		} `json:"parts"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 8<<20)).Decode(&out); err != nil {
		return "", fmt.Errorf("part URLs: %w", err)
	}
	if s.urls == nil {
		s.urls = map[int]string{}
	}
	for _, p := range out.Parts {
		s.urls[p.Number] = s.c.URL(p.URL)
	}
	u, ok := s.urls[n]
	if !ok {
		return "", fmt.Errorf("the registry gave no URL for part %d", n)
	}
	return u, nil
}

// PutPart sends size bytes of body as part n straight to storage and
// returns the part's ETag. A refused URL (expired) is fetched afresh
// once.
func (s *Session) PutPart(ctx context.Context, n, last int, body func() io.Reader, size int64) (string, error) {
	for attempt := 0; ; attempt++ {
		u, err := s.PartURL(ctx, n, last, attempt > 0)
		if err != nil {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, body())
		if err != nil {
			return "", err
		}
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
		res, err := s.c.Storage.Do(req)
		if err != nil {
			return "", fmt.Errorf("part %d: %w", n, err)
		}
		if res.StatusCode == http.StatusOK {
			drain(res)
			if tag := res.Header.Get("ETag"); tag != "" {
				return tag, nil
			}
			return "", fmt.Errorf("storage answered part %d without an ETag", n)
		}
		if res.StatusCode == http.StatusForbidden && attempt == 0 {
			drain(res)
			continue
		}
		err = responseError(res, fmt.Sprintf("upload part %d", n))
		res.Body.Close()
		return "", err
	}
}

// Complete lists the parts and the blob's digest to the registry, and
// waits until it verified them.
func (s *Session) Complete(ctx context.Context, d digest.Digest, parts []Part) error {
	body, err := json.Marshal(map[string]any{"parts": parts})
	if err != nil {
		return err
	}
	h := http.Header{"Content-Type": {"application/json"}}
	res, err := s.c.Do(ctx, http.MethodPut, s.url(url.Values{"digest": {d.String()}}), body, h, s.Repo)
	if err != nil {
		return err
	}
	return s.settle(ctx, res)
}

// Wait polls a session being verified until it is done or failed.
func (s *Session) Wait(ctx context.Context) error {
	res, err := s.c.Do(ctx, http.MethodGet, s.url(nil), nil, nil, s.Repo)
	if err != nil {
		return err
	}
	return s.settle(ctx, res)
}

// settle follows a completion or status answer to its end: 201 or
// done, or the registry's error.
func (s *Session) settle(ctx context.Context, res *http.Response) error {
	for {
		state := res.Header.Get(headerUploadState)
		switch {
		case res.StatusCode == http.StatusCreated, res.StatusCode == http.StatusNoContent && state == stateDone:
			drain(res)
			return nil
		case res.StatusCode == http.StatusAccepted && state == stateVerifying:
			wait := time.Second
			if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs >= 0 {
				wait = time.Duration(secs) * time.Second
			}
			drain(res)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		default:
			err := responseError(res, "complete the upload")
			res.Body.Close()
			return err
		}
		var err error
		if res, err = s.c.Do(ctx, http.MethodGet, s.url(nil), nil, nil, s.Repo); err != nil {
			return err
		}
	}
}
