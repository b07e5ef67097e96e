package push

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// StateDir keeps what an interrupted push needs to resume: one small
// JSON file per blob upload (its session and the parts stored so far),
// and the compressed layers, so a resumed push neither recompresses nor
// resends a stored part. A nil *StateDir keeps nothing.
type StateDir struct {
	Dir string
}

// UploadState is the resumable progress of one blob upload.
type UploadState struct {
	// Location is the registry's session URL.
	Location string `json:"location"`
	Digest   string `json:"digest"`
	Size     int64  `json:"size"`
	PartSize int64  `json:"partSize"`
	// Parts are the parts storage acknowledged, by number.
	Parts map[int]Part `json:"parts"`
}

// Key names the upload of blob d into repo at registry base.
func (sd *StateDir) Key(base, repo string, d digest.Digest) string {
	sum := sha256.Sum256([]byte(base + "\n" + repo + "\n" + d.String()))
	return hex.EncodeToString(sum[:16])
}

func (sd *StateDir) path(key string) string {
	return filepath.Join(sd.Dir, "uploads", key+".json")
}

// Load returns the saved state of an upload, or nil.
func (sd *StateDir) Load(key string) *UploadState {
	if sd == nil {
		return nil
	}
	b, err := os.ReadFile(sd.path(key))
	if err != nil {
		return nil
	}
	var st UploadState
	if json.Unmarshal(b, &st) != nil || st.Parts == nil {
		return nil
	}
	return &st
}

// Save writes an upload's state (atomically: a crash leaves the old or
// the new file). Failing to save costs only resumability, so errors are
// not reported.
func (sd *StateDir) Save(key string, st *UploadState) {
	if sd == nil {
		return
	}
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	p := sd.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	tmp := p + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, p)
	}
}

// Remove forgets an upload.
func (sd *StateDir) Remove(key string) {
	if sd != nil {
		_ = os.Remove(sd.path(key))
	}
}

// Cache returns the directory for cached files of one kind ("layers",
// "saved"), creating it.
func (sd *StateDir) Cache(kind string) (string, error) {
	d := filepath.Join(sd.Dir, kind)
	return d, os.MkdirAll(d, 0o700)
}
