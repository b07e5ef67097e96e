package push

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
)

// compressBlock is how much input each gzip member holds: blocks are
// compressed in parallel and written in order, one member each (a
// multi-member gzip stream, which docker, containerd and Go's gzip
// reader read as one). Deflate's window is 32 KiB, so blocks this size
// cost almost nothing in ratio.
const compressBlock = 4 << 20

// layerCache is what a cached compressed layer records beside its bytes.
type layerCache struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// compressLayer gzips the uncompressed layer src (diffID is its sha256)
// into dir, reusing an earlier result, and returns the compressed blob's
// file, digest and size. bar counts input bytes. The output is the same
// for the same input, so a resumed push finds its parts still valid.
func compressLayer(ctx context.Context, dir string, diffID digest.Digest, src io.Reader, bar *Bar) (string, layerCache, error) {
	path := filepath.Join(dir, diffID.Encoded()+".gz")
	var lc layerCache
	if b, err := os.ReadFile(path + ".json"); err == nil && json.Unmarshal(b, &lc) == nil {
		if fi, err := os.Stat(path); err == nil && fi.Size() == lc.Size {
			return path, lc, nil
		}
	}
	f, err := os.CreateTemp(dir, "layer-*.gz.tmp")
	if err != nil {
		return "", lc, err
	}
	defer os.Remove(f.Name())
	out := sha256.New()
	in := sha256.New()
	n, err := gzipParallel(ctx, io.MultiWriter(f, out), io.TeeReader(src, in), bar)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", lc, err
	}
	if got := digest.NewDigest(digest.SHA256, in); got != diffID {
		return "", lc, fmt.Errorf("layer content has digest %s, not %s as the image config says", got, diffID)
	}
	lc = layerCache{Digest: digest.NewDigest(digest.SHA256, out), Size: n}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", lc, err
	}
	b, _ := json.Marshal(lc)
	if err := os.WriteFile(path+".json", b, 0o600); err != nil {
		return "", lc, err
	}
	return path, lc, nil
}

// block is one stretch of input and, once compressed, its gzip member.
type block struct {
	in  []byte
	out chan []byte
}

// gzipParallel compresses r to w with one worker per CPU and returns
// how many bytes it wrote.
func gzipParallel(ctx context.Context, w io.Writer, r io.Reader, bar *Bar) (int64, error) {
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan *block, workers)
	order := make(chan *block, workers*2)
	var readErr error
	go func() {
		defer close(jobs)
		defer close(order)
		for first := true; ; first = false {
			buf := make([]byte, compressBlock)
			n, err := io.ReadFull(r, buf)
			if n > 0 || first {
				// An empty layer still gets one (empty) member.
				b := &block{in: buf[:n], out: make(chan []byte, 1)}
				select {
				case jobs <- b:
				case <-ctx.Done():
					readErr = ctx.Err()
					return
				}
				order <- b
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return
			} else if err != nil {
				readErr = err
				return
			}
		}
	}()
	for range workers {
		go func() {
			for b := range jobs {
				var out bytes.Buffer
				zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
				_, _ = zw.Write(b.in)
				_ = zw.Close()
				b.out <- out.Bytes()
			}
		}()
	}
	var written int64
	var werr error
	for b := range order {
		out := <-b.out
		if werr == nil {
			var n int
			n, werr = w.Write(out)
			written += int64(n)
		}
		bar.Add(int64(len(b.in)))
	}
	if readErr != nil {
		return written, readErr
	}
	return written, werr
}
