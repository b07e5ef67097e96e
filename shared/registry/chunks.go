package registry

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"hash"

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
// begun for a blob that fits the tail, and commit moves the tail to the
// object (store.Mover) or writes it with one Put.
func (reg *Registry) appendData(ctx context.Context, u *store.Upload, data []byte, final, prepare bool) (string, error) {
	if m, ok := reg.blobs.(store.Mover); ok && final && u.MultipartID == "" && u.TailSize > 0 && len(data) == 0 {
		// The whole blob is the tail (a layer sent in one PATCH, then
		// PUT without a body): the tail becomes the object where it
		// lies, its bytes never read back nor written again.
		if err := m.Move(ctx, u.TailKey, u.Key); err != nil {
			return "", fmt.Errorf("move upload tail to its object: %w", err)
		}
		u.TailKey, u.TailSize = "", 0
		return "", nil // nothing left to delete
	}
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
		if !final {
			if err := partHash(u, buf); err != nil {
				return "", err
			}
		}
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

// An upload is hashed as it streams in with sha256 only, the digest
// every client commits with. sha512 (the one other algorithm a commit
// may name, oci.Hashes) is kept over the bytes that have left the tail
// for a multipart part — the request that writes a part holds those bytes
// anyway (partHash) — and completed at a sha512 commit over the tail and
// the last bytes (pendingSum). So a sha512 commit is checked before
// anything is written, exactly as a sha256 one, while a sha256 push no
// longer pays for a second, slower hash of every byte (it was 16% of a
// cold push's CPU).

// hashInto restores the session's running sha256, feeds it data and
// stores its state again.
func hashInto(u *store.Upload, data []byte) error {
	return feed(u, digest.SHA256, digest.SHA256.String(), data)
}

// partHash feeds the algorithms other than sha256 with bytes that leave
// the tail for a part: their states cover the session's first
// Offset-TailSize bytes.
func partHash(u *store.Upload, data []byte) error {
	for _, alg := range oci.Hashes {
		if alg != digest.SHA256 {
			if err := feed(u, alg, partKey(alg), data); err != nil {
				return err
			}
		}
	}
	return nil
}

// partKey is the entry of store.Upload.Hashes holding alg's state over
// the bytes written as parts (not the key of a state over every byte).
func partKey(alg digest.Algorithm) string { return alg.String() + "/parts" }

func feed(u *store.Upload, alg digest.Algorithm, key string, data []byte) error {
	if u.Hashes == nil {
		u.Hashes = map[string][]byte{}
	}
	h, err := restoreKey(u.Hashes, alg, key)
	if err != nil {
		return err
	}
	h.Write(data)
	st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("save %s state: %w", alg, err)
	}
	u.Hashes[key] = st
	return nil
}

// pendingSum is the digest by alg of everything a commit completes: the
// sha256 running state (hashInto has fed it the last bytes), or for
// another algorithm its state over the parts, then the tail, then last.
func (reg *Registry) pendingSum(ctx context.Context, u *store.Upload, alg digest.Algorithm, last []byte) (digest.Digest, error) {
	if alg == digest.SHA256 {
		return sum(u.Hashes, alg)
	}
	h, err := restoreKey(u.Hashes, alg, partKey(alg))
	if err != nil {
		return "", err
	}
	if u.TailSize > 0 {
		tail, err := reg.blobs.Get(ctx, u.TailKey)
		if err != nil {
			return "", fmt.Errorf("read upload tail: %w", err)
		}
		h.Write(tail)
	}
	h.Write(last)
	return digest.NewDigest(alg, h), nil
}

func restore(states map[string][]byte, alg digest.Algorithm) (hash.Hash, error) {
	return restoreKey(states, alg, alg.String())
}

func restoreKey(states map[string][]byte, alg digest.Algorithm, key string) (hash.Hash, error) {
	h := oci.HashFor(alg).New()
	if st, ok := states[key]; ok {
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
