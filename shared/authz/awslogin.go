package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/berth-registry/berth/shared/api"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/iamlogin"
	"github.com/berth-registry/berth/shared/oidc"
	"github.com/berth-registry/berth/shared/store"
)

// WithAWS returns a copy of the Authorizer that accepts AWS IAM logins
// ("<tenancy>/aws" with a signed sts:GetCallerIdentity request, checked
// at v's STS endpoint). Without it, such logins are refused.
func (a *Authorizer) WithAWS(v *iamlogin.Verifier) *Authorizer {
	c := *a
	c.aws = v
	return &c
}

// AWS is the verifier of AWS IAM logins, nil when they are off.
func (a *Authorizer) AWS() *iamlogin.Verifier { return a.aws }

type hostKey struct{}

// WithHost records in ctx the host a request was sent to (its Host
// header): an AWS IAM login must be signed for it, so that a registry
// cannot replay a login it received to another one.
func WithHost(ctx context.Context, host string) context.Context {
	return context.WithValue(ctx, hostKey{}, host)
}

func hostOf(ctx context.Context) string {
	h, _ := ctx.Value(hostKey{}).(string)
	return h
}

// awsLogin checks an AWS IAM login against the tenancy's role mappings.
// The login names nothing Berth fetches: iamlogin sends it to the STS
// endpoint the registry is configured with, and only when the tenancy
// maps some role at all.
func (a *Authorizer) awsLogin(ctx context.Context, tenancy, token string) (Credentials, error) {
	login := tenancy + "/" + auth.AWSUser
	if !iamlogin.IsToken(token) {
		return Credentials{}, &AuthError{Msg: "the password of " + login + " must be an AWS login token (berth login --aws, or berth aws-token)"}
	}
	cacheKey := "aws\x00" + login + "\x00" + oidc.Fingerprint(token)
	if v, ok := a.cache.get(cacheKey); ok {
		if c := v.(cachedFederated); !a.now().After(c.expires) {
			return c.c, nil
		}
		return Credentials{}, &AuthError{Msg: "the AWS login has expired: sign a new one"}
	}
	mappings, err := a.roleMappings(ctx, tenancy)
	if err != nil {
		return Credentials{}, err
	}
	if len(mappings) == 0 {
		return Credentials{}, &AuthError{Msg: "tenancy " + tenancy + " maps no AWS roles (berth aws-roles put)"}
	}
	now := a.now()
	caller, err := a.aws.Verify(ctx, token, hostOf(ctx), now)
	if err != nil {
		return Credentials{}, a.awsError(err, caller)
	}
	p := auth.Principal{Tenancy: tenancy, User: auth.AWSUser}
	f := &Federation{Issuer: "aws", Subject: caller.ARN, Role: caller.Role}
	var expires time.Time
	for _, m := range mappings {
		if !iamlogin.Matches(m.Role, caller.Role) {
			continue
		}
		f.Rules = append(f.Rules, m.Name)
		if !slices.Contains(p.Groups, m.Group) {
			p.Groups = append(p.Groups, m.Group)
		}
		lt := m.MaxLifetimeSeconds
		if lt <= 0 {
			lt = 900
		}
		if limit := now.Add(time.Duration(lt) * time.Second); expires.IsZero() || limit.Before(expires) {
			expires = limit
		}
	}
	if len(f.Rules) == 0 {
		return Credentials{}, &AuthError{Msg: "no AWS role mapping of tenancy " + tenancy + " names role " + caller.Role, Detail: "caller " + caller.ARN}
	}
	slices.Sort(p.Groups)
	c := Credentials{Principal: p, Via: "aws", Expires: expires, Federation: f}
	// A login is good until STS would refuse it; the cache keeps it no
	// longer than that, nor than policyTTL.
	a.cache.put(cacheKey, cachedFederated{c: c, expires: caller.Signed.Add(iamlogin.Window)}, policyTTL)
	return c, nil
}

// awsError is what the client is told about a login that does not
// check out; an STS outage is returned as it is (logged, answered 503).
func (a *Authorizer) awsError(err error, caller iamlogin.Caller) error {
	msg := "the AWS login does not check out"
	switch {
	case errors.Is(err, iamlogin.ErrUnavailable):
		return fmt.Errorf("AWS IAM login: %w", err)
	case errors.Is(err, iamlogin.ErrMalformed):
		msg = "the AWS login token is malformed; sign a new one with berth login --aws"
	case errors.Is(err, iamlogin.ErrEndpoint), errors.Is(err, iamlogin.ErrScope):
		msg = fmt.Sprintf("the AWS login is signed for another STS endpoint or region: this registry checks logins at %s, region %s", a.aws.Endpoint(), a.aws.Region())
	case errors.Is(err, iamlogin.ErrAudience):
		msg = "the AWS login was signed for another registry (" + iamlogin.AudienceHeader + " must be this registry's host)"
	case errors.Is(err, iamlogin.ErrExpired):
		msg = fmt.Sprintf("the AWS login has expired (it is good for %v after signing; is a clock wrong?)", iamlogin.Window)
	case errors.Is(err, iamlogin.ErrRefused):
		msg = "AWS STS refused the signed request (bad signature, or unknown or expired credentials)"
	case errors.Is(err, iamlogin.ErrNotRole):
		msg = "only IAM roles log in to Berth with AWS: " + caller.ARN + " is not a role session"
	}
	return &AuthError{Msg: msg, Detail: err.Error()}
}

// roleMappings returns a tenancy's AWS role mappings (cached like
// policies: no storage read per request).
func (a *Authorizer) roleMappings(ctx context.Context, tenancy string) ([]store.RoleMapping, error) {
	return cachedRules(ctx, a, "awsroles\x00"+tenancy, tenancy, a.ids.ListRoleMappings)
}

// AWSInfo is what GET /token?aws answers: where the registry checks AWS
// IAM logins, so that a client signs for that endpoint and region.
type AWSInfo struct {
	STSEndpoint string `json:"stsEndpoint"`
	Region      string `json:"region"`
}

// awsInfo serves GET /token?aws.
func (s *TokenService) awsInfo(w http.ResponseWriter) error {
	v := s.authz.aws
	if v == nil {
		return errcode.New(errcode.Unsupported, "this registry does not accept AWS IAM logins (its token function has no BERTH_STS_REGION or AWS_REGION)").WithStatus(http.StatusNotFound)
	}
	return api.Reply(w, http.StatusOK, AWSInfo{STSEndpoint: v.Endpoint(), Region: v.Region()})
}
