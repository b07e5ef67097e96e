package authz

import (
	"errors"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/shared/api"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/reqinfo"
)

// OAuth 2.0 Token Exchange (RFC 8693) identifiers.
const (
	// GrantTokenExchange is the grant_type of a token exchange.
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
	tokenTypeJWT       = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
	// TokenTypeAWSLogin is the subject_token_type of an AWS IAM login
	// token (shared/iamlogin), Berth's own.
	TokenTypeAWSLogin = "urn:berth:params:oauth:token-type:aws-login"
)

// exchangeResponse is RFC 8693 §2.2.1's answer.
type exchangeResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int    `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
}

// oauthError is RFC 6749 §5.2's error answer.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// exchange serves POST /token with the token-exchange grant: the
// subject_token is an OIDC ID token (or an AWS IAM login token, with
// subject_token_type TokenTypeAWSLogin), audience names the tenancy whose
// federation rules judge it, and scope the access asked for (Docker
// scopes, space-separated). The answer is a registry token acting as
// the rules' groups, as "<tenancy>/oidc".
func (s *TokenService) exchange(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	invalid := func(msg string) error {
		return api.Reply(w, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: msg})
	}
	switch {
	case f.Get("subject_token") == "":
		return invalid("subject_token is required: the OIDC ID token to exchange")
	case f.Get("subject_token_type") != tokenTypeIDToken && f.Get("subject_token_type") != tokenTypeJWT && f.Get("subject_token_type") != TokenTypeAWSLogin:
		return invalid("subject_token_type must be " + tokenTypeIDToken + ", " + tokenTypeJWT + " or " + TokenTypeAWSLogin)
	case f.Get("actor_token") != "":
		return invalid("actor_token (delegation) is not supported")
	case f.Get("requested_token_type") != "" && f.Get("requested_token_type") != tokenTypeAccess:
		return invalid("requested_token_type must be " + tokenTypeAccess)
	}
	tenancy := f.Get("audience")
	if tenancy == "" || strings.Contains(tenancy, "/") {
		return invalid("audience must name the tenancy whose federation rules apply, such as audience=dev")
	}
	user, via := auth.FederatedUser, "oidc"
	if f.Get("subject_token_type") == TokenTypeAWSLogin {
		user, via = auth.AWSUser, "aws"
	}
	c, err := s.authz.Login(r.Context(), tenancy+"/"+user, f.Get("subject_token"))
	var ae *AuthError
	switch {
	case errors.As(err, &ae):
		if ae.Detail != "" {
			s.log.InfoContext(r.Context(), "token exchange refused", "reason", ae.Msg, "detail", ae.Detail)
		}
		// RFC 8693 §2.2.2: an unacceptable subject token is
		// invalid_request.
		return invalid(ae.Msg)
	case err != nil:
		return s.credentialError(r, err)
	case c.Via != via:
		return invalid("subject_token must be an OIDC ID token, or an AWS login token with its subject_token_type")
	}
	reqinfo.SetPrincipal(r.Context(), c.Principal.String())
	tok, claims, access, err := s.mint(r, c, strings.Fields(f.Get("scope")))
	if err != nil {
		var e *errcode.Error
		if errors.As(err, &e) && e.HTTPStatus() < 500 {
			return api.Reply(w, http.StatusBadRequest, oauthError{Error: "invalid_scope", Description: e.Message})
		}
		return err
	}
	s.record(r, c, "token exchange")
	var granted []string
	for _, a := range access {
		granted = append(granted, a.Type+":"+a.Name+":"+strings.Join(a.Actions, ","))
	}
	return api.Reply(w, http.StatusOK, exchangeResponse{
		AccessToken: tok, IssuedTokenType: tokenTypeAccess, TokenType: "Bearer",
		ExpiresIn: lifetime(claims), Scope: strings.Join(granted, " "),
	})
}
