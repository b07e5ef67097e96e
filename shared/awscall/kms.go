package awscall

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// KMS calls AWS KMS's Decrypt (awsJson1_1: POST /, X-Amz-Target
// TrentService.Decrypt).
type KMS struct{ c *client }

// NewKMS returns a KMS caller with cfg's region and credentials, at the
// endpoint the environment names for KMS (AWS_ENDPOINT_URL_KMS), else
// https://kms.<region>.amazonaws.com.
func NewKMS(cfg aws.Config) *KMS { return &KMS{c: newClient(cfg, "kms")} }

// Decrypt opens ciphertext sealed by kms:Encrypt with the key keyID (an
// id, ARN or alias; a ciphertext of another key is refused) and the
// same encryption context. A refusal is an *Error, e.g.
// InvalidCiphertextException for another context.
func (k *KMS) Decrypt(ctx context.Context, keyID string, ciphertext []byte, encryptionContext map[string]string) ([]byte, error) {
	// []byte fields marshal as base64, as the protocol's blobs are.
	body, err := json.Marshal(struct {
		CiphertextBlob    []byte
		KeyId             string            `json:",omitempty"`
		EncryptionContext map[string]string `json:",omitempty"`
	}{ciphertext, keyID, encryptionContext})
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amz-Target", "TrentService.Decrypt")
	b, err := k.c.do(ctx, "Decrypt", "/", h, body, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var out struct{ Plaintext []byte }
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("kms Decrypt: the answer is not KMS's: %w", err)
	}
	if out.Plaintext == nil {
		return nil, fmt.Errorf("kms Decrypt: the answer holds no plaintext")
	}
	return out.Plaintext, nil
}
