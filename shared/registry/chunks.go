package registry

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// appendData writes data, which the caller hashed into the session
// (hashInto): bytes that with the buffered tail reach store.MinPartSize
// become a multipart part, the rest become the new tail. With final set,
// everything is written and the object completed. It returns the tail
// key the write replaced.
//
// A chunk costs at most two object-store requests: reading the tail and
// writing a part or a new tail. With prepare set (more chunks will
// follow), a request that read no tail and starts a tail also begins the
// multipart upload, so the later chunk that turns the tail into a part
// need not. Without it (docker's single streamed PATCH) no multipart is
// begun for a blob that fits the tail, and commit writes it with one Put.
func (reg *Registry) appendData(ctx context.Context, u *store.Upload, data []byte, final, prepare bool) (string, error) {
	buf := data
	readTail := u.TailSize > 0
	if readTail {
		tail, err := reg.blobs.Get(ctx, u.TailKey)
		if err != nil {
			return "", fmt.Errorf("read upload tail: %w", err)
		}
		buf = append(tail, data...)
	}
	old := u.TailKey
	u.Offset += int64(len(data))
	switch {
	case final && u.MultipartID == "":
		if err := reg.blobs.Put(ctx, u.Key, buf); err != nil {
			return "", fmt.Errorf("write blob: %w", err)
		}
	case final || len(buf) >= store.MinPartSize:
		if len(buf) > 0 {
			if err := reg.writePart(ctx, u, buf); err != nil {
				return "", err
			}
		}
		u.TailKey, u.TailSize = "", 0
		if final {
			if err := reg.blobs.CompleteMultipart(ctx, u.Key, u.MultipartID, u.Parts); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return "", errcode.New(errcode.BlobUploadInvalid, "upload %s's parts changed under it (a concurrent request?); start the upload again", u.ID)
				}
				return "", fmt.Errorf("complete multipart: %w", err)
			}
		}
	case len(buf) > 0:
		// Each tail has a key of its own: of two requests racing from
		// one version, the loser's tail must not overwrite the winner's
		// (the session's digest state would no longer match its bytes).
		u.TailKey = fmt.Sprintf("uploads/%s/tail-%d-%s", u.ID, u.Version+1, newID()[:8])
		u.TailSize = int64(len(buf))
		if err := reg.blobs.Put(ctx, u.TailKey, buf); err != nil {
			return "", fmt.Errorf("write upload tail: %w", err)
		}
		if prepare && !readTail && u.MultipartID == "" {
			id, err := reg.blobs.CreateMultipart(ctx, u.Key)
			if err != nil {
				return "", fmt.Errorf("create multipart: %w", err)
			}
			u.MultipartID = id
		}
	}
	return old, nil
}

func (reg *Registry) writePart(ctx context.Context, u *store.Upload, data []byte) error {
	if u.MultipartID == "" {
		id, err := reg.blobs.CreateMultipart(ctx, u.Key)
		if err != nil {
			return fmt.Errorf("create multipart: %w", err)
		}
		u.MultipartID = id
	}
	n := len(u.Parts) + 1
	etag, err := reg.blobs.UploadPart(ctx, u.Key, u.MultipartID, n, data)
	if err != nil {
		return fmt.Errorf("upload part %d: %w", n, err)
	}
	u.Parts = append(u.Parts, store.Part{Number: n, ETag: etag, Size: int64(len(data))})
	return nil
}

// hashInto restores the session's running digests, feeds them data and
// stores their states again. The algorithms hash side by side when data
// is large (a layer in one PATCH): their sum of CPU is the same, but a
// request waits for the slower one only.
func hashInto(u *store.Upload, data []byte) error {
	if u.Hashes == nil {
		u.Hashes = map[string][]byte{}
	}
	states := make([][]byte, len(oci.Hashes))
	errs := make([]error, len(oci.Hashes))
	one := func(i int) {
		alg := oci.Hashes[i]
		h, err := restore(u.Hashes, alg)
		if err != nil {
			errs[i] = err
			return
		}
		h.Write(data)
		if states[i], err = h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
			errs[i] = fmt.Errorf("save %s state: %w", alg, err)
		}
	}
	if len(data) < parallelHashSize {
		for i := range oci.Hashes {
			one(i)
		}
	} else {
		var wg sync.WaitGroup
		for i := range oci.Hashes {
			wg.Go(func() { one(i) })
		}
		wg.Wait()
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, alg := range oci.Hashes {
		u.Hashes[alg.String()] = states[i]
	}
	return nil
}

// parallelHashSize is the chunk size from which hashInto hashes with
// every algorithm at once: below it, starting goroutines costs more than
// it saves.
const parallelHashSize = 256 << 10

func restore(states map[string][]byte, alg digest.Algorithm) (hash.Hash, error) {
	h := oci.HashFor(alg).New()
	if st, ok := states[alg.String()]; ok {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
			return nil, fmt.Errorf("restore %s state: %w", alg, err)
		}
	}
	return h, nil
}

func sum(states map[string][]byte, alg digest.Algorithm) (digest.Digest, error) {
	h, err := restore(states, alg)
	if err != nil {
		return "", err
	}
	return digest.NewDigest(alg, h), nil
}
