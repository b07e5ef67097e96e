// Package kmskey keeps the registry-token signing key in AWS KMS: an
// asymmetric ECC_NIST_P256 key whose private half never leaves KMS. The
// token function signs through kms:Sign; the authorizer fetches the
// public key once per execution environment, on its first request
// (kms:GetPublicKey, shared/app/authfn), and verifies locally, so
// checking a token costs no KMS call. It lives beside the other AWS
// stores because, like them, it is where a secret is kept.
package kmskey

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/berth-registry/berth/shared/auth"
)

// API is the part of the KMS client the signer uses.
type API interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
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
	out, err := api.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, fmt.Errorf("kms GetPublicKey %s: %w", keyID, err)
	}
	k, err := x509.ParsePKIXPublicKey(out.PublicKey)
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
	out, err := s.api.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.keyID),
		Message:          digest,
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, fmt.Errorf("kms Sign: %w", err)
	}
	return out.Signature, nil
}
