package push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// MonolithicMax is the largest blob sent in one request (POST
// ?digest=): it fits a Lambda request after base64 (the registry
// advertises the same as OCI-Chunk-Max-Length). Larger blobs go direct.
const MonolithicMax = 4 << 20

// DefaultPartSize is the part size of direct uploads: large enough that
// a 1 GB layer takes 64 requests, small enough that parts run in
// parallel and a resumed upload repeats little.
const DefaultPartSize = 16 << 20

// ReadAtCloser is random access to a blob's bytes.
type ReadAtCloser interface {
	io.ReaderAt
	io.Closer
}

// Blob is content to push: a layer, a config or a manifest's blob.
type Blob struct {
	Digest    digest.Digest
	Size      int64
	MediaType string
	// Open gives the bytes (called once per upload).
	Open func() (ReadAtCloser, error)
}

// Uploader pushes blobs with direct uploads: parts in parallel, progress
// kept in a state file so that an interrupted upload resumes.
type Uploader struct {
	Client *Client
	// PartSize is the part size (DefaultPartSize when 0); a blob that
	// would need more than 10,000 parts gets larger ones.
	PartSize int64
	// Parallel is how many parts are in flight at once across every
	// blob this Uploader sends (4 when 0).
	Parallel int
	// State keeps upload progress for resuming; nil keeps none.
	State *StateDir
	// Retries is how often a failed part is tried again (3 when 0).
	Retries int

	once  sync.Once
	slots chan struct{}
}

func (up *Uploader) init() {
	up.once.Do(func() {
		n := up.Parallel
		if n <= 0 {
			n = 4
		}
		up.slots = make(chan struct{}, n)
		if up.PartSize <= 0 {
			up.PartSize = DefaultPartSize
		}
		if up.Retries <= 0 {
			up.Retries = 3
		}
	})
}

// HasBlob reports whether repo holds blob d (HEAD).
func (c *Client) HasBlob(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	res, err := c.Do(ctx, http.MethodHead, "/v2/"+repo+"/blobs/"+d.String(), nil, nil, repo)
	if err != nil {
		return false, err
	}
	drain(res)
	switch res.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, &Error{Status: res.StatusCode, Message: "checking for blob " + d.String()}
}

// PutMonolithic uploads a small blob in one request (POST ?digest=).
func (c *Client) PutMonolithic(ctx context.Context, repo string, d digest.Digest, data []byte) error {
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	res, err := c.Do(ctx, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+url.QueryEscape(d.String()), data, h, repo)
	if err != nil {
		return err
	}
	defer drain(res)
	if res.StatusCode != http.StatusCreated {
		return responseError(res, "upload blob "+d.String())
	}
	return nil
}

// Upload pushes b into repo unless it is there already, reporting to
// bar (which may be nil).
func (up *Uploader) Upload(ctx context.Context, repo string, b Blob, bar *Bar) error {
	up.init()
	if ok, err := up.Client.HasBlob(ctx, repo, b.Digest); err != nil {
		return err
	} else if ok {
		bar.Exists()
		return nil
	}
	r, err := b.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	bar.Set(StatusPushing)
	if b.Size <= MonolithicMax {
		data := make([]byte, b.Size)
		if _, err := r.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if err := up.Client.PutMonolithic(ctx, repo, b.Digest, data); err != nil {
			return err
		}
		bar.Add(b.Size)
		bar.Done()
		return nil
	}
	key := up.State.Key(up.Client.Base.String(), repo, b.Digest)
	s, rs, err := up.resume(ctx, repo, key, b, bar)
	if err != nil || s == nil {
		return err // nil, nil: the resumed session was already done
	}
	if !s.Direct {
		return up.ordinary(ctx, s, b, r, bar)
	}
	if err := up.parts(ctx, s, rs, key, r, bar); err != nil {
		return err
	}
	bar.Set(StatusVerifying)
	err = s.Complete(ctx, b.Digest, rs.list())
	if err != nil && (IsCode(err, "DIGEST_INVALID") || IsCode(err, "BLOB_UPLOAD_INVALID") || IsCode(err, "BLOB_UPLOAD_UNKNOWN")) {
		up.State.Remove(key) // the session cannot go on: start afresh next time
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w", b.Digest, err)
	}
	up.State.Remove(key)
	bar.Done()
	return nil
}

// resume continues the session a state file names, or starts one.
func (up *Uploader) resume(ctx context.Context, repo, key string, b Blob, bar *Bar) (*Session, *UploadState, error) {
	if rs := up.State.Load(key); rs != nil && rs.Size == b.Size && rs.PartSize > 0 {
		s, state, err := up.Client.Resume(ctx, repo, rs.Location)
		switch {
		case err == nil && state == stateUploading && s.Direct:
			for _, p := range rs.Parts {
				bar.Add(p.Size)
			}
			bar.Resumed()
			return s, rs, nil
		case err == nil && (state == stateVerifying || state == stateDone):
			bar.Add(b.Size)
			bar.Set(StatusVerifying)
			if err := s.Wait(ctx); err != nil {
				up.State.Remove(key)
				return nil, nil, err
			}
			up.State.Remove(key)
			bar.Done()
			return nil, nil, nil
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		}
		up.State.Remove(key) // gone or failed: start again
	}
	s, err := up.Client.Start(ctx, repo)
	if err != nil {
		return nil, nil, err
	}
	ps := up.PartSize
	if need := (b.Size + maxParts - 1) / maxParts; need > ps {
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	rs := &UploadState{Location: s.Location, Size: b.Size, PartSize: ps, Digest: b.Digest.String(), Parts: map[int]Part{}}
	if s.Direct {
		up.State.Save(key, rs)
	}
	return s, rs, nil
}

const maxParts = 10000

// parts uploads the parts rs lacks, up.Parallel at a time across all
// uploads, saving progress after each.
func (up *Uploader) parts(ctx context.Context, s *Session, rs *UploadState, key string, r io.ReaderAt, bar *Bar) error {
	last := int((rs.Size + rs.PartSize - 1) / rs.PartSize)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for n := 1; n <= last; n++ {
		mu.Lock()
		_, have := rs.Parts[n]
		mu.Unlock()
		if have {
			continue
		}
		select {
		case up.slots <- struct{}{}:
		case <-gctx.Done():
			return waitErr(g, ctx)
		}
		off := int64(n-1) * rs.PartSize
		size := min(rs.PartSize, rs.Size-off)
		g.Go(func() error {
			defer func() { <-up.slots }()
			tag, err := up.putPart(gctx, s, n, last, io.NewSectionReader(r, off, size), size, bar)
			if err != nil {
				return err
			}
			mu.Lock()
			rs.Parts[n] = Part{Number: n, ETag: tag, Size: size}
			up.State.Save(key, rs)
			mu.Unlock()
			return nil
		})
	}
	return waitErr(g, ctx)
}

// Slot waits for one of the Uploader's part slots; release frees it.
// Callers that stream parts (shared/proxy) hold a slot while a part is
// in memory, which bounds memory to Parallel parts.
func (up *Uploader) Slot(ctx context.Context) (release func(), err error) {
	up.init()
	select {
	case up.slots <- struct{}{}:
		return func() { <-up.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// PutPartBytes uploads data as part n of s (retrying failures, without
// taking a slot) and returns it as the completion lists it. last bounds
// the part URLs asked for at once.
func (up *Uploader) PutPartBytes(ctx context.Context, s *Session, n, last int, data []byte) (Part, error) {
	up.init()
	sr := io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data)))
	tag, err := up.putPart(ctx, s, n, last, sr, int64(len(data)), nil)
	return Part{Number: n, ETag: tag, Size: int64(len(data))}, err
}

// waitErr waits for the group and prefers the caller's cancellation as
// the reason.
func waitErr(g *errgroup.Group, ctx context.Context) error {
	err := g.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// putPart sends one part, retrying failures, and counts its bytes on bar.
func (up *Uploader) putPart(ctx context.Context, s *Session, n, last int, sr *io.SectionReader, size int64, bar *Bar) (string, error) {
	var err error
	for attempt := 0; attempt <= up.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		cr := &counter{bar: bar}
		var tag string
		tag, err = s.PutPart(ctx, n, last, func() io.Reader {
			cr.undo()
			cr.r = io.NewSectionReader(sr, 0, size)
			return cr
		}, size)
		if err == nil {
			return tag, nil
		}
		cr.undo()
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		var re *Error
		if errors.As(err, &re) && re.Status < 500 && re.Status != http.StatusForbidden {
			return "", err // storage refused the part itself
		}
	}
	return "", err
}

// counter reports bytes read through it to a bar, and can take them
// back when the request that read them failed.
type counter struct {
	r   io.Reader
	bar *Bar
	n   int64
}

func (c *counter) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	c.bar.Add(int64(k))
	return k, err
}

func (c *counter) undo() {
	c.bar.Add(-c.n)
	c.n = 0
}

// ordinary uploads through a session without direct parts (a registry
// without the extension): PATCH chunks of at most the advertised
// length, then PUT.
func (up *Uploader) ordinary(ctx context.Context, s *Session, b Blob, r io.ReaderAt, bar *Bar) error {
	chunk := s.ChunkMax
	if chunk <= 0 {
		chunk = b.Size
	}
	loc := s.Location
	buf := make([]byte, min(chunk, b.Size))
	for off := int64(0); off < b.Size; off += chunk {
		n := min(chunk, b.Size-off)
		if _, err := r.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		h := http.Header{"Content-Type": {"application/octet-stream"}, "Content-Range": {fmt.Sprintf("%d-%d", off, off+n-1)}}
		res, err := up.Client.Do(ctx, http.MethodPatch, loc, bytes.Clone(buf[:n]), h, s.Repo)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusAccepted {
			err := responseError(res, "upload a chunk")
			res.Body.Close()
			return err
		}
		if l := res.Header.Get("Location"); l != "" {
			loc = l
		}
		drain(res)
		bar.Add(n)
	}
	s.Location = loc
	res, err := up.Client.Do(ctx, http.MethodPut, s.url(url.Values{"digest": {b.Digest.String()}}), nil, nil, s.Repo)
	if err != nil {
		return err
	}
	defer drain(res)
	if res.StatusCode != http.StatusCreated {
		return responseError(res, "commit blob "+b.Digest.String())
	}
	bar.Done()
	return nil
}

// list returns the parts in order, for the completion.
func (p *UploadState) list() []Part {
	out := make([]Part, 0, len(p.Parts))
	for _, part := range p.Parts {
		out = append(out, part)
	}
	slices.SortFunc(out, func(a, b Part) int { return a.Number - b.Number })
	return out
}
