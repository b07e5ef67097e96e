// Package iamlogin checks AWS IAM logins (docs/auth.md, "AWS IAM
// logins"): a client proves which IAM role it acts as by signing, with
// SigV4, an sts:GetCallerIdentity request that it does not send. It
// hands Berth the signed request's headers (never a URL); Berth checks
// their shape, rebuilds the request for the STS endpoint its own
// configuration names, sends it, and reads the caller's ARN from STS's
// answer. The client picks nothing that Berth fetches: the endpoint, the
// method, the path and the body are Berth's; a request signed for
// another host, region or service is refused before anything is sent,
// and STS refuses one whose signature does not cover what Berth sends.
//
// The client side (signing with the AWS SDK's credential chain) lives
// in shared/iamlogin/iamsign, so that this package, which the
// authorizer links, imports no AWS SDK.
package iamlogin

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The request a login signs: Berth sends exactly this, whatever the
// client says.
const (
	// Method is the signed request's method.
	Method = "POST"
	// Path is the signed request's path (no query).
	Path = "/"
	// Body is the signed request's body: the only action Berth asks STS.
	Body = "Action=GetCallerIdentity&Version=2011-06-15"
	// ContentType is the signed request's Content-Type.
	ContentType = "application/x-www-form-urlencoded; charset=utf-8"
	// AudienceHeader names the registry the login is for (its host, as
	// the client reached it). It is signed, so a registry that receives
	// a login cannot replay it to another one; STS ignores it.
	AudienceHeader = "X-Berth-Audience"
	// Service is the SigV4 service name the signature must carry.
	Service = "sts"
)

// Prefix starts every login token, so that a password can be told apart
// from an auth token at a glance.
const Prefix = "berth-aws-v1."

// MaxTokenLength bounds a login token: a role session's security token
// is 1 to 2 KB, and API Gateway's whole header block is 10,240 bytes.
const MaxTokenLength = 6144

// ErrMalformed refuses a token that is not a login token.
var ErrMalformed = errors.New("malformed AWS login token")

// Request is what a client sends of its signed GetCallerIdentity
// request: the values of the headers it signed. The host is the one
// it signed for, compared with the configured endpoint's.
type Request struct {
	Host          string `json:"host"`
	Date          string `json:"x-amz-date"`
	SecurityToken string `json:"x-amz-security-token,omitempty"`
	Audience      string `json:"x-berth-audience"`
	Authorization string `json:"authorization"`
}

// Encode returns the login token: the password of "<tenancy>/aws".
func (r Request) Encode() string {
	b, _ := json.Marshal(r)
	return Prefix + base64.RawURLEncoding.EncodeToString(b)
}

// IsToken reports whether s looks like a login token.
func IsToken(s string) bool { return strings.HasPrefix(s, Prefix) }

// Decode reads a login token, refusing one that is too long, not
// base64url JSON, or missing a header.
func Decode(s string) (Request, error) {
	var r Request
	if len(s) > MaxTokenLength {
		return r, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLength)
	}
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return r, fmt.Errorf("%w: it does not start with %s", ErrMalformed, Prefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return r, fmt.Errorf("%w: not base64url: %v", ErrMalformed, err)
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return r, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if r.Host == "" || r.Date == "" || r.Audience == "" || r.Authorization == "" {
		return r, fmt.Errorf("%w: host, x-amz-date, x-berth-audience and authorization are required", ErrMalformed)
	}
	for _, v := range []string{r.Host, r.Date, r.SecurityToken, r.Audience, r.Authorization} {
		if strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 || c >= 0x7f }) {
			return r, fmt.Errorf("%w: a header holds a control or non-ASCII character", ErrMalformed)
		}
	}
	return r, nil
}
