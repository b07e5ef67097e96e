package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/push"
	"github.com/berth-registry/berth/shared/route"
)

// maxPartNumber is S3's (and so the registry's) most parts a blob has.
const maxPartNumber = 10000

// session is one of docker's uploads, held by the proxy: the bytes go on
// to the registry as parts of a direct upload while they arrive.
type session struct {
	id, repo string
	partSize int

	mu      sync.Mutex // one request of the session at a time
	touched time.Time
	offset  int64
	buf     []byte
	started time.Time

	up      *push.Session // the registry's session, once a part is full
	next    int           // the next part's number
	wg      sync.WaitGroup
	partsMu sync.Mutex
	parts   []push.Part
	err     error // the first part upload's failure
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// upload serves POST, PATCH, PUT, GET and DELETE of docker's uploads.
func (p *Proxy) upload(w http.ResponseWriter, r *http.Request, m route.Match) error {
	repo := m.Name()
	if err := oci.ValidName(repo); err != nil {
		return errcode.New(errcode.NameInvalid, "%v", err)
	}
	ctx := r.Context()
	if r.Method == http.MethodPost {
		return p.start(w, r, repo)
	}
	p.mu.Lock()
	s := p.sessions[m.Param("id")]
	p.mu.Unlock()
	if s == nil || s.repo != repo {
		return errcode.New(errcode.BlobUploadUnknown, "upload %q is not in progress in the proxy", m.Param("id"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touched = time.Now()
	switch r.Method {
	case http.MethodGet:
		status(w, s, http.StatusNoContent)
		return nil
	case http.MethodDelete:
		p.drop(s, true)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPatch:
		if err := p.write(ctx, s, r); err != nil {
			return err
		}
		status(w, s, http.StatusAccepted)
		return nil
	case http.MethodPut:
		if err := p.write(ctx, s, r); err != nil {
			return err
		}
		d, err := oci.ParseDigest(r.URL.Query().Get("digest"))
		if err != nil {
			return errcode.New(errcode.DigestInvalid, "%v", err)
		}
		err = p.finish(ctx, s, d)
		p.drop(s, err != nil)
		if err != nil {
			return err
		}
		created(w, repo, d)
		return nil
	}
	return errcode.New(errcode.Unsupported, "method %s not allowed on uploads", r.Method)
}

// start opens a session: a mount is tried at the registry first; a
// single POST with ?digest= is a whole upload.
func (p *Proxy) start(w http.ResponseWriter, r *http.Request, repo string) error {
	ctx := r.Context()
	q := r.URL.Query()
	if q.Get("mount") != "" {
		res, err := p.Client.Do(ctx, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?"+r.URL.RawQuery, nil, nil, repo)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode == http.StatusCreated {
			d, _ := digest.Parse(q.Get("mount"))
			created(w, repo, d)
			return nil
		}
		if loc := res.Header.Get("Location"); res.StatusCode == http.StatusAccepted && loc != "" {
			// Not mountable: the registry opened an ordinary session,
			// which the proxy does not use.
			if res, err := p.Client.Do(ctx, http.MethodDelete, loc, nil, nil, repo); err == nil {
				res.Body.Close()
			}
		}
	}
	s := &session{id: newID(), repo: repo, partSize: int(p.partSize()), next: 1, touched: time.Now(), started: time.Now()}
	p.sweep()
	p.mu.Lock()
	p.sessions[s.id] = s
	p.mu.Unlock()
	if dg := q.Get("digest"); dg != "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		d, err := oci.ParseDigest(dg)
		if err == nil {
			if err = p.write(ctx, s, r); err == nil {
				err = p.finish(ctx, s, d)
			}
		} else {
			err = errcode.New(errcode.DigestInvalid, "%v", err)
		}
		p.drop(s, err != nil)
		if err != nil {
			return err
		}
		created(w, repo, d)
		return nil
	}
	status(w, s, http.StatusAccepted)
	return nil
}

func (p *Proxy) partSize() int64 {
	if p.Uploader.PartSize > 0 {
		return p.Uploader.PartSize
	}
	return push.DefaultPartSize
}

// status writes an upload's Location, UUID and Range.
func status(w http.ResponseWriter, s *session, code int) {
	h := w.Header()
	h.Set("Location", "/v2/"+s.repo+"/blobs/uploads/"+s.id)
	h.Set("Docker-Upload-UUID", s.id)
	h.Set("Range", fmt.Sprintf("0-%d", max(s.offset-1, 0)))
	h.Set("Content-Length", "0")
	w.WriteHeader(code)
}

func created(w http.ResponseWriter, repo string, d digest.Digest) {
	h := w.Header()
	h.Set("Location", "/v2/"+repo+"/blobs/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// write takes a request's body into the session: full parts leave for
// storage at once (up to the Uploader's Parallel in flight, which bounds
// the memory held), the rest waits for more.
func (p *Proxy) write(ctx context.Context, s *session, r *http.Request) error {
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, _, _ := strings.Cut(strings.TrimPrefix(cr, "bytes "), "-")
		if off, err := strconv.ParseInt(start, 10, 64); err != nil || off != s.offset {
			return errcode.New(errcode.RangeInvalid, "Content-Range %q does not continue the upload at offset %d", cr, s.offset).
				WithHeader("Range", fmt.Sprintf("0-%d", max(s.offset-1, 0)))
		}
	}
	for {
		if s.buf == nil {
			s.buf = make([]byte, 0, s.partSize)
		}
		n, err := io.ReadFull(r.Body, s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		s.offset += int64(n)
		if len(s.buf) == cap(s.buf) {
			if perr := p.sendPart(ctx, s); perr != nil {
				return perr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		} else if err != nil {
			return errcode.New(errcode.BlobUploadInvalid, "reading the upload: %v", err)
		}
	}
}

// sendPart sends the buffered bytes as the next part, in the background.
func (p *Proxy) sendPart(ctx context.Context, s *session) error {
	if err := s.failed(); err != nil {
		return err
	}
	if s.up == nil {
		up, err := p.Client.Start(ctx, s.repo)
		if err != nil {
			return err
		}
		if !up.Direct {
			return errcode.New(errcode.Unsupported, "the registry at %s offers no direct uploads, so the proxy cannot send layers larger than one request", p.Client.Base)
		}
		s.up = up
	}
	release, err := p.Uploader.Slot(ctx)
	if err != nil {
		return err
	}
	n, data := s.next, s.buf
	s.next++
	s.buf = nil
	if n > maxPartNumber {
		release()
		return errcode.New(errcode.SizeInvalid, "the blob needs more than %d parts of %d bytes; run the proxy with a larger part size", maxPartNumber, s.partSize)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer release()
		// Not the request's context: the part outlives the PATCH that
		// filled it.
		part, err := p.Uploader.PutPartBytes(context.Background(), s.up, n, min(maxPartNumber, n+63), data)
		s.partsMu.Lock()
		defer s.partsMu.Unlock()
		if err != nil && s.err == nil {
			s.err = fmt.Errorf("part %d: %w", n, err)
		}
		s.parts = append(s.parts, part)
	}()
	return nil
}

func (s *session) failed() error {
	s.partsMu.Lock()
	defer s.partsMu.Unlock()
	return s.err
}

// finish completes the blob at the registry: small blobs in one
// request, others with their last part and the part list, waiting for
// the registry to verify the digest.
func (p *Proxy) finish(ctx context.Context, s *session, d digest.Digest) error {
	if s.up == nil && int64(len(s.buf)) <= push.MonolithicMax {
		return p.Client.PutMonolithic(ctx, s.repo, d, s.buf)
	}
	if len(s.buf) > 0 || s.up == nil {
		if err := p.sendPart(ctx, s); err != nil {
			return err
		}
	}
	s.wg.Wait()
	if err := s.failed(); err != nil {
		return err
	}
	slices.SortFunc(s.parts, func(a, b push.Part) int { return a.Number - b.Number })
	if err := s.up.Complete(ctx, d, s.parts); err != nil {
		return err
	}
	secs := time.Since(s.started).Seconds()
	p.Log.Info("pushed blob", "repository", s.repo, "digest", d.String(), "size", s.offset, "parts", len(s.parts),
		"seconds", secs, "MBps", float64(s.offset)/1e6/max(secs, 0.001))
	return nil
}

// drop forgets a session; with cancel it also cancels the registry's
// session (in the background, once its parts are in), so no parts are
// left behind.
func (p *Proxy) drop(s *session, cancel bool) {
	p.mu.Lock()
	delete(p.sessions, s.id)
	p.mu.Unlock()
	if !cancel || s.up == nil {
		return
	}
	go func() {
		s.wg.Wait()
		if res, err := p.Client.Do(context.Background(), http.MethodDelete, s.up.Location, nil, nil, s.repo); err == nil {
			res.Body.Close()
		}
	}()
}

// sweep drops sessions docker abandoned.
func (p *Proxy) sweep() {
	ttl := p.IdleTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	p.mu.Lock()
	var idle []*session
	for _, s := range p.sessions {
		if s.mu.TryLock() {
			if time.Since(s.touched) > ttl {
				idle = append(idle, s)
			}
			s.mu.Unlock()
		}
	}
	p.mu.Unlock()
	for _, s := range idle {
		p.drop(s, true)
	}
}
