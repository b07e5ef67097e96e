// Package iamsign is the client side of AWS IAM logins
// (shared/iamlogin, docs/auth.md "AWS IAM logins"): it signs an
// sts:GetCallerIdentity request with the AWS SDK's credentials and
// SigV4 signer, and returns its headers as a login token. The request
// itself is never sent by the client.
package iamsign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/berth-registry/berth/shared/iamlogin"
)

// Credentials loads the SDK's default credential chain (environment,
// shared config and SSO, web identity, container and instance roles).
func Credentials(ctx context.Context) (aws.CredentialsProvider, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Credentials == nil {
		return nil, fmt.Errorf("no AWS credentials found (set AWS_PROFILE, run aws sso login, or run where a role is attached)")
	}
	return cfg.Credentials, nil
}

// Sign returns a login token for the registry named audience (its host,
// as the client reaches it): the signed headers of a GetCallerIdentity
// request to the STS endpoint and region the registry checks logins at.
func Sign(ctx context.Context, creds aws.CredentialsProvider, endpoint, region, audience string, now time.Time) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("the registry's STS endpoint %q is not a URL", endpoint)
	}
	c, err := creds.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("reading AWS credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, iamlogin.Method, u.Scheme+"://"+u.Host+iamlogin.Path, strings.NewReader(iamlogin.Body))
	if err != nil {
		return "", err
	}
	// Only the headers Berth sends are signed: no Content-Length (the
	// signer adds it when the request says it has one).
	req.ContentLength = 0
	req.Header = http.Header{}
	req.Header.Set("Content-Type", iamlogin.ContentType)
	req.Header.Set(iamlogin.AudienceHeader, audience)
	sum := sha256.Sum256([]byte(iamlogin.Body))
	if err := v4.NewSigner().SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), iamlogin.Service, region, now.UTC()); err != nil {
		return "", fmt.Errorf("signing the login: %w", err)
	}
	return iamlogin.Request{
		Host:          u.Host,
		Date:          req.Header.Get("X-Amz-Date"),
		SecurityToken: req.Header.Get("X-Amz-Security-Token"),
		Audience:      audience,
		Authorization: req.Header.Get("Authorization"),
	}.Encode(), nil
}
