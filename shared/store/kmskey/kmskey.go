// Package kmskey keeps Berth's keys in AWS KMS. The registry-token
// signing key is an asymmetric ECC_NIST_P256 key whose private half
// never leaves KMS: the token function signs through kms:Sign; the
// authorizer fetches the public key once per execution environment, on
// its first request (kms:GetPublicKey, shared/app/authfn), and verifies
// locally, so checking a token costs no KMS call. A symmetric key seals
// the pull-through cache's upstream credentials (Sealer). It lives
// beside the other AWS stores because, like them, it is where a secret
// is kept.
package kmskey

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/awscall"
)

// Client returns a KMS caller with the SDK configuration awsCfg, at the
// endpoint the environment names for KMS when one is set (an emulator).
// It is shared/awscall's, not the SDK's KMS client: that client's
// package init (its schemas and endpoint tables, about 0.5 ms) and its
// megabyte were most of what the token function, the authorizer and the
// admin function start with beyond the other functions
// (docs/lambda-mode.md, cold start).
func Client(awsCfg aws.Config) *awscall.KMS { return awscall.NewKMS(awsCfg) }

// API is the part of KMS the signer uses.
type API interface {
	GetPublicKey(ctx context.Context, keyID string) ([]byte, error)
	SignDigest(ctx context.Context, keyID string, digest []byte) ([]byte, error)
}

// Signer implements auth.Signer with a KMS key.
type Signer struct {
	api   API
	keyID string
	pub   *ecdsa.PublicKey
}

var _ auth.Signer = (*Signer)(nil)

// New reads the key's public half; keyID is a key id, ARN or alias.
func New(ctx context.Context, api API, keyID string) (*Signer, error) {
	der, err := api.GetPublicKey(ctx, keyID)
	if err != nil {
		return nil, fmt.Errorf("kms GetPublicKey %s: %w", keyID, err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse KMS public key: %w", err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("the signing key must be a KMS ECC_NIST_P256 key")
	}
	return &Signer{api: api, keyID: keyID, pub: pub}, nil
}

// Public implements auth.Signer.
func (s *Signer) Public() *ecdsa.PublicKey { return s.pub }

// SignDigest implements auth.Signer: KMS returns an ASN.1 DER signature.
func (s *Signer) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	sig, err := s.api.SignDigest(ctx, s.keyID, digest)
	if err != nil {
		return nil, fmt.Errorf("kms Sign: %w", err)
	}
	return sig, nil
}

// CipherAPI is the part of KMS a Sealer uses.
type CipherAPI interface {
	Encrypt(ctx context.Context, keyID string, plaintext []byte, encryptionContext map[string]string) ([]byte, error)
	Decrypt(ctx context.Context, keyID string, ciphertext []byte, encryptionContext map[string]string) ([]byte, error)
}

// Sealer encrypts small secrets (a pull-through cache's upstream
// credentials, at most 4 KiB) with a symmetric KMS key: the ciphertext
// is stored, and only a function granted kms:Decrypt on the key reads
// the secret, each time in CloudTrail. The context is KMS's encryption
// context, so a secret sealed for one rule does not open for another.
type Sealer struct {
	api   CipherAPI
	keyID string
}

// NewSealer returns a Sealer with the key keyID (an id, ARN or alias).
func NewSealer(api CipherAPI, keyID string) *Sealer { return &Sealer{api: api, keyID: keyID} }

// Seal encrypts plaintext bound to context (kms:Encrypt).
func (s *Sealer) Seal(ctx context.Context, plaintext []byte, context map[string]string) ([]byte, error) {
	out, err := s.api.Encrypt(ctx, s.keyID, plaintext, context)
	if err != nil {
		return nil, fmt.Errorf("kms Encrypt: %w", err)
	}
	return out, nil
}

// Open decrypts what Seal made with the same context (kms:Decrypt, with
// the key named so that a ciphertext of another key is refused).
func (s *Sealer) Open(ctx context.Context, sealed []byte, context map[string]string) ([]byte, error) {
	out, err := s.api.Decrypt(ctx, s.keyID, sealed, context)
	if err != nil {
		return nil, fmt.Errorf("kms Decrypt: %w", err)
	}
	return out, nil
}
