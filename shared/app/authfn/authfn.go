// Package authfn wires the two functions that hold the token-signing
// key: the token endpoint (functions/token), which signs registry
// tokens, and the authorizer (functions/authorizer), which verifies
// them. No other function links KMS.
package authfn

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/errcode"
	berthevents "github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/iamlogin"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/oidc"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/kmskey"
)

// tokenIssuer is the "iss" of registry tokens.
const tokenIssuer = "berth"

// Signer returns what signs registry tokens: the KMS key
// BERTH_SIGNING_KEY_ID (on AWS), else the PEM key BERTH_SIGNING_KEY, else
// a key kept in the data directory (created on first use), on either
// backend: one local process signs and verifies, and keeps its key
// across restarts. Lambda functions share no directory, so Token and
// Authorizer refuse the aws backend without a key first (lambdaSigner).
func Signer(ctx context.Context, env app.Env) (auth.Signer, error) {
	cfg := env.Config
	switch {
	case cfg.SigningKeyID != "":
		awsCfg, err := env.SDK(ctx)
		if err != nil {
			return nil, err
		}
		return kmskey.New(ctx, kmskey.Client(awsCfg), cfg.SigningKeyID)
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
	if cfg.SigningKeyID == "" && cfg.SigningKey == "" {
		return errors.New("BERTH_SIGNING_KEY_ID (a KMS ECC_NIST_P256 key) or BERTH_SIGNING_KEY (PEM) is required in Lambda with the aws backend")
	}
	return nil
}

// Auth is the access-control side of the registry: the authorizer and
// the token endpoint, over one signing key.
type Auth struct {
	Authorizer *authz.Authorizer
	Tokens     *authz.TokenService
}

// Stores are what authentication reads: identities, and repositories
// (whether one is public).
type Stores struct {
	IDs   store.Identity
	Repos store.Repositories
}

// New builds the authorizer and the token endpoint over the stores,
// issuing and checking tokens on env's clock.
func New(ctx context.Context, env app.Env, st Stores) (*Auth, error) {
	cfg := env.Config
	signer, err := Signer(ctx, env)
	if err != nil {
		return nil, err
	}
	v := auth.NewVerifier(tokenIssuer, cfg.Service, signer.Public()).WithClock(env.Clock.Now)
	// One verifier per process: its key cache lives across warm
	// invocations.
	fed := oidc.NewVerifier(oidc.Options{AllowLoopback: cfg.OIDCLoopback})
	// Console sessions are tokens of the same key for another audience
	// (docs/console.md).
	cv := auth.NewVerifier(tokenIssuer, auth.ConsoleAudience(cfg.Service), signer.Public()).WithClock(env.Clock.Now)
	a := authz.NewAuthorizer(st.IDs, st.Repos, v).WithClock(env.Clock.Now).WithFederation(fed).WithConsole(cv)
	if cfg.STSRegion != "" {
		sts, err := iamlogin.NewVerifier(iamlogin.Options{Endpoint: cfg.STSEndpoint, Region: cfg.STSRegion,
			Audiences: cfg.STSAudiences, AllowLoopback: cfg.OIDCLoopback})
		if err != nil {
			return nil, fmt.Errorf("AWS IAM logins: %w", err)
		}
		a = a.WithAWS(sts)
	}
	if lr, ok := st.IDs.(store.LoginRefusals); ok && cfg.LoginAlertThreshold > 0 {
		a = a.WithRefusals(berthevents.NewRefusalCounter(lr, st.IDs, cfg.LoginAlertThreshold, cfg.LoginAlertWindow, env.Clock.Now, env.Log))
	}
	issuer := auth.NewIssuer(signer, tokenIssuer, cfg.Service, cfg.TokenTTL).WithClock(env.Clock.Now)
	sessionTTL := cfg.ConsoleSessionTTL
	if sessionTTL <= 0 {
		sessionTTL = config.DefaultConsoleSessionTTL
	}
	sessions := auth.NewIssuer(signer, tokenIssuer, auth.ConsoleAudience(cfg.Service), sessionTTL).WithClock(env.Clock.Now)
	tokens := authz.NewTokenService(a, issuer, st.IDs, env.Log).WithSessions(authz.NewSessions(a, sessions, st.IDs, env.Log))
	return &Auth{Authorizer: a, Tokens: tokens}, nil
}

// open loads a function's environment and opens the table it reads,
// refusing what a Lambda function cannot sign with.
func open(ctx context.Context) (app.Env, Stores, error) {
	env, err := app.Load()
	if err != nil {
		return env, Stores{}, err
	}
	if env.Config.Backend != "aws" {
		return env, Stores{}, app.ErrEmbedded
	}
	if err := lambdaSigner(env.Config); err != nil {
		return env, Stores{}, err
	}
	awsCfg, err := env.SDK(ctx)
	if err != nil {
		return env, Stores{}, err
	}
	table := backend.Table(awsCfg, env.Config)
	table.SetClock(env.Clock.Now)
	return env, Stores{IDs: table, Repos: table}, nil
}

// Token returns the token function's Lambda handler. As Authorizer
// does, it reads a KMS key (kms:GetPublicKey) on the first request
// rather than at init; a failed read answers that request 503
// UNAVAILABLE and is tried again on the next.
func Token(ctx context.Context) (lambdahttp.HandlerFunc, error) {
	env, st, err := open(ctx)
	if err != nil {
		return nil, err
	}
	if env.Config.SigningKeyID == "" {
		a, err := New(ctx, env, st)
		if err != nil {
			return nil, err
		}
		return lambdahttp.Handler(metrics.Handler(env.Metrics, route.Token, a.Tokens), env.Log), nil
	}
	l := &lazy{env: env, st: st}
	return lambdahttp.Handler(metrics.Handler(env.Metrics, route.Token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := l.auth(r.Context())
		if err != nil {
			env.Log.ErrorContext(r.Context(), "token function could not read its signing key", "error", err.Error())
			errcode.Write(w, r, errcode.New(errcode.Unavailable, "the registry could not issue tokens just now; try again").WithHeader("Retry-After", "1"))
			return
		}
		a.Tokens.ServeHTTP(w, r)
	})), env.Log), nil
}

// Authorizer returns the authorizer function's Lambda handler. With a
// KMS key (BERTH_SIGNING_KEY_ID, as on AWS) the key that verifies tokens
// is read on the first invocation that decides, not at init:
// kms:GetPublicKey is a network round trip a cold start need not wait
// for, and the key is kept for the environment's life. A failed read
// answers that request 503 (lambdahttp.Authorizer) and is tried again on
// the next.
func Authorizer(ctx context.Context) (lambdahttp.AuthorizerFunc, error) {
	env, st, err := open(ctx)
	if err != nil {
		return nil, err
	}
	if env.Config.SigningKeyID == "" {
		a, err := New(ctx, env, st)
		if err != nil {
			return nil, err
		}
		return AuthorizerHandler(env, a.Authorizer), nil
	}
	return AuthorizerHandler(env, &lazy{env: env, st: st}), nil
}

// AuthorizerHandler is the authorizer function's Lambda handler over d,
// counting its refusals (AuthorizerDenials, by the status the function
// will answer; docs/metrics.md).
func AuthorizerHandler(env app.Env, d lambdahttp.Decider) lambdahttp.AuthorizerFunc {
	f := lambdahttp.Authorizer(d, env.Log)
	if env.Metrics == nil {
		return f
	}
	return func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		res, err := f(ctx, ev)
		if d, ok := authz.FromContext(res.Context); err == nil && ok && !d.Allow {
			env.Metrics.Count(metrics.AuthorizerDenials, 1, strconv.Itoa(d.Status))
		}
		return res, err
	}
}

// lazy builds the authorizer and the token endpoint on first use, and
// again after a failure.
type lazy struct {
	env app.Env
	st  Stores
	mu  sync.Mutex
	a   *Auth
}

// auth returns the Auth, building it if need be.
func (l *lazy) auth(ctx context.Context) (*Auth, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.a == nil {
		a, err := New(ctx, l.env, l.st)
		if err != nil {
			return nil, err
		}
		l.a = a
	}
	return l.a, nil
}

// Decide implements lambdahttp.Decider.
func (l *lazy) Decide(ctx context.Context, r authz.Request) (authz.Decision, error) {
	a, err := l.auth(ctx)
	if err != nil {
		return authz.Decision{}, err
	}
	return a.Authorizer.Decide(ctx, r)
}
