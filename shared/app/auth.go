package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/clock"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/iamlogin"
	"github.com/berth-registry/berth/shared/oidc"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/kmskey"
)

// tokenIssuer is the "iss" of registry tokens.
const tokenIssuer = "berth"

// Signer returns what signs registry tokens: the KMS key
// BERTH_SIGNING_KEY_ID (on AWS), else the PEM key BERTH_SIGNING_KEY, else
// a key kept in the data directory (created on first use), on either
// backend: one local process signs and verifies, and keeps its key
// across restarts. Lambda functions share no directory, so Function and
// Authorizer refuse the aws backend without a key first (lambdaSigner).
func Signer(ctx context.Context, cfg config.Config) (auth.Signer, error) {
	switch {
	case cfg.SigningKeyID != "":
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		return kmskey.New(ctx, kms.NewFromConfig(awsCfg), cfg.SigningKeyID)
	case cfg.SigningKey != "":
		k, err := auth.ParseSigningKey([]byte(cfg.SigningKey))
		return auth.KeySigner{Key: k}, err
	}
	p := filepath.Join(cfg.Data, "token-signing-key.pem")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		if b, err = auth.NewSigningKey(); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	k, err := auth.ParseSigningKey(b)
	return auth.KeySigner{Key: k}, err
}

// lambdaSigner refuses what a Lambda function cannot sign with: on the
// aws backend each function would make a key of its own in its own
// temporary directory, and none would verify another's tokens.
func lambdaSigner(cfg config.Config) error {
	if cfg.Backend != "embedded" && cfg.SigningKeyID == "" && cfg.SigningKey == "" {
		return errors.New("BERTH_SIGNING_KEY_ID (a KMS ECC_NIST_P256 key) or BERTH_SIGNING_KEY (PEM) is required in Lambda with the aws backend")
	}
	return nil
}

// Auth is the access-control side of the registry: authorizer and token
// endpoint.
type Auth struct {
	Authorizer *authz.Authorizer
	Tokens     *authz.TokenService
}

// NewAuth builds the authorizer and the token endpoint over the stores,
// issuing and checking tokens on clk.
func NewAuth(ctx context.Context, cfg config.Config, stores *backend.Stores, clk *clock.Clock) (*Auth, error) {
	signer, err := Signer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	v := auth.NewVerifier(tokenIssuer, cfg.Service, signer.Public()).WithClock(clk.Now)
	// One verifier per process: its key cache lives across warm
	// invocations.
	fed := oidc.NewVerifier(oidc.Options{AllowLoopback: cfg.OIDCLoopback})
	a := authz.NewAuthorizer(stores.IDs, stores.Meta, v).WithClock(clk.Now).WithFederation(fed)
	if cfg.STSRegion != "" {
		sts, err := iamlogin.NewVerifier(iamlogin.Options{Endpoint: cfg.STSEndpoint, Region: cfg.STSRegion,
			Audiences: cfg.STSAudiences, AllowLoopback: cfg.OIDCLoopback})
		if err != nil {
			return nil, fmt.Errorf("AWS IAM logins: %w", err)
		}
		a = a.WithAWS(sts)
	}
	if lr, ok := stores.IDs.(store.LoginRefusals); ok && cfg.LoginAlertThreshold > 0 {
		a = a.WithRefusals(events.NewRefusalCounter(lr, stores.IDs, cfg.LoginAlertThreshold, cfg.LoginAlertWindow, clk.Now, Logger(cfg.LogLevel)))
	}
	issuer := auth.NewIssuer(signer, tokenIssuer, cfg.Service, cfg.TokenTTL).WithClock(clk.Now)
	return &Auth{Authorizer: a, Tokens: authz.NewTokenService(a, issuer, stores.IDs, Logger(cfg.LogLevel))}, nil
}

// Bootstrap makes sure the local tenancy exists with an "admin" user in
// its administrators group, and returns that user's auth token: the one
// in BERTH_ADMIN_TOKEN, else the one kept in the data directory, else a
// new one (kept there for the next start).
func Bootstrap(ctx context.Context, cfg config.Config, ids store.Identity) (string, error) {
	now := time.Now().UTC()
	if err := ids.CreateTenancy(ctx, store.Tenancy{Name: cfg.Tenancy, Created: now}); err != nil && !errors.Is(err, store.ErrExists) {
		return "", err
	}
	if _, err := ids.GetGroup(ctx, cfg.Tenancy, auth.AdminGroup); errors.Is(err, store.ErrNotFound) {
		if err := ids.PutGroup(ctx, store.Group{Tenancy: cfg.Tenancy, Name: auth.AdminGroup, Description: "manages everything in the tenancy", Created: now}); err != nil {
			return "", err
		}
	}
	u, err := ids.GetUser(ctx, cfg.Tenancy, "admin")
	if errors.Is(err, store.ErrNotFound) {
		u = store.User{Tenancy: cfg.Tenancy, Name: "admin", Created: now}
	} else if err != nil {
		return "", err
	}
	if !contains(u.Groups, auth.AdminGroup) {
		u.Groups = append(u.Groups, auth.AdminGroup)
		if err := ids.PutUser(ctx, u); err != nil {
			return "", err
		}
	}
	token := cfg.AdminToken
	file := filepath.Join(cfg.Data, "admin-token")
	if token == "" && cfg.Backend == "embedded" {
		if b, err := os.ReadFile(file); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	if token == "" {
		var id string
		var hash []byte
		id, token, hash = auth.NewAuthToken()
		if err := ids.PutToken(ctx, store.AuthToken{Tenancy: cfg.Tenancy, User: "admin", ID: id, Description: "bootstrap", Hash: hash, Created: now}); err != nil {
			return "", err
		}
		if cfg.Backend == "embedded" {
			if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
				return "", err
			}
		}
		return token, nil
	}
	id, secret, ok := auth.ParseAuthToken(token)
	if !ok {
		return "", fmt.Errorf("BERTH_ADMIN_TOKEN is not an auth token (bt_<16 chars>_<32 chars>); unset it to have one generated")
	}
	if t, err := ids.GetToken(ctx, cfg.Tenancy, "admin", id); err == nil && auth.SecretMatches(t.Hash, secret) && !t.Revoked {
		return token, nil
	}
	return token, ids.PutToken(ctx, store.AuthToken{Tenancy: cfg.Tenancy, User: "admin", ID: id, Description: "bootstrap", Hash: auth.HashSecret(secret), Created: now})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
