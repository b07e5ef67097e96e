package local

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Sealer encrypts small secrets (a pull-through cache's upstream
// credentials) with AES-256-GCM under a key kept in a file of the data
// directory, created on first use: the embedded backend's stand-in for
// a KMS key. The context is the additional authenticated data, so a
// secret sealed for one rule does not open for another.
type Sealer struct {
	aead cipher.AEAD
}

// OpenSealer reads the 32-byte key at path, creating it (mode 0600)
// when absent.
func OpenSealer(path string) (*Sealer, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		// O_EXCL: of two processes creating it at once, one key wins and
		// the other reads it.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return OpenSealer(path)
		} else if err != nil {
			return nil, err
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%s holds %d bytes, not a 32-byte key", path, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// additional is the context in a canonical form (sorted key=value
// lines).
func additional(c map[string]string) []byte {
	lines := make([]string, 0, len(c))
	for k, v := range c {
		lines = append(lines, k+"="+v)
	}
	slices.Sort(lines)
	return []byte(strings.Join(lines, "\n"))
}

// Seal encrypts plaintext bound to context: a random nonce, then the
// ciphertext.
func (s *Sealer) Seal(_ context.Context, plaintext []byte, context map[string]string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plaintext, additional(context)), nil
}

// Open decrypts what Seal made with the same key and context.
func (s *Sealer) Open(_ context.Context, sealed []byte, context map[string]string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed data is too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], additional(context))
	if err != nil {
		return nil, errors.New("sealed data does not open with this key and context")
	}
	return plain, nil
}
