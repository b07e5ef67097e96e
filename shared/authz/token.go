package authz

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/api"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/reqinfo"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/textform"
)

// TokenService is the Docker token-auth endpoint (GET /token, and the
// OAuth2 POST form containerd uses): it authenticates the caller and
// issues a registry token whose access is what was asked, intersected
// with what policy allows.
type TokenService struct {
	authz  *Authorizer
	issuer *auth.Issuer
	audit  store.Audit
	log    *slog.Logger
	// sessions signs browsers in to the console (WithSessions).
	sessions http.Handler
}

// WithSessions makes the token function also serve the console's
// sign-in (POST /console/sign-in) with s: the function that holds the
// signing key signs sessions too.
func (s *TokenService) WithSessions(h *Sessions) *TokenService {
	c := *s
	c.sessions = h
	return &c
}

// NewTokenService returns the token endpoint's handler.
func NewTokenService(a *Authorizer, issuer *auth.Issuer, audit store.Audit, log *slog.Logger) *TokenService {
	return &TokenService{authz: a, issuer: issuer, audit: audit, log: log}
}

// maxScopes bounds the scopes one token request may ask for.
const maxScopes = 20

type tokenResponse struct {
	Token       string `json:"token,omitempty"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
	Scope       string `json:"scope,omitempty"`
}

// ServeHTTP implements http.Handler.
func (s *TokenService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(WithHost(r.Context(), r.Host))
	if r.URL.Path == route.SignInPath && s.sessions != nil {
		s.sessions.ServeHTTP(w, r)
		return
	}
	if err := s.serve(w, r); err != nil {
		var e *errcode.Error
		if !errors.As(err, &e) {
			s.log.ErrorContext(r.Context(), "token request failed", "error", err.Error())
		}
		errcode.Write(w, r, err)
	}
}

func (s *TokenService) serve(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var (
		c      Credentials
		scopes []string
		oauth  bool
		err    error
	)
	switch r.Method {
	case http.MethodGet:
		if r.URL.Query().Has("aws") {
			return s.awsInfo(w)
		}
		scopes = r.URL.Query()["scope"]
		h := r.Header.Get("Authorization")
		if c, err = s.authz.Authenticate(ctx, h); err != nil {
			return s.credentialError(r, err)
		}
		if c.Via == "bearer" && !isBasic(h) {
			return errcode.New(errcode.Unauthorized, "present Basic credentials (<tenancy>/<user> and an auth token) to get a registry token")
		}
	case http.MethodPost:
		oauth = true
		if err := r.ParseForm(); err != nil {
			return errcode.New(errcode.Unsupported, "malformed form").WithStatus(http.StatusBadRequest)
		}
		switch gt := r.PostForm.Get("grant_type"); gt {
		case "password":
		case GrantTokenExchange:
			return s.exchange(w, r)
		default:
			return errcode.New(errcode.Unsupported, "grant_type %q is not supported; use password or %s", gt, GrantTokenExchange).WithStatus(http.StatusBadRequest)
		}
		if c, err = s.authz.Login(ctx, r.PostForm.Get("username"), r.PostForm.Get("password")); err != nil {
			return s.credentialError(r, err)
		}
		scopes = strings.Fields(r.PostForm.Get("scope"))
	default:
		return errcode.New(errcode.Unsupported, "use GET or POST on /token")
	}
	if !c.Principal.Anonymous() {
		reqinfo.SetPrincipal(ctx, c.Principal.String())
	}
	tok, claims, _, err := s.mint(r, c, scopes)
	if err != nil {
		return err
	}
	if len(scopes) == 0 && !c.Principal.Anonymous() {
		// A request without scopes is docker login's check.
		s.record(r, c, "login")
	}
	res := tokenResponse{AccessToken: tok, ExpiresIn: lifetime(claims), IssuedAt: claims.IssuedAt.Format(time.RFC3339)}
	if !oauth {
		res.Token = tok
	} else {
		res.Scope = strings.Join(scopes, " ")
	}
	return api.Reply(w, http.StatusOK, res)
}

// isBasic reports whether an Authorization header is Basic: a registry
// token given as a Basic password (a keyless login's, by the kubelet
// credential provider) may be reissued, with no more access; one given
// as Bearer is for the registry, not for /token.
func isBasic(h string) bool {
	scheme, _, _ := strings.Cut(h, " ")
	return strings.EqualFold(scheme, "basic")
}

// mint grants each asked scope what the credentials allow and signs a
// registry token, expiring no later than the credentials bound it.
func (s *TokenService) mint(r *http.Request, c Credentials, scopes []string) (string, auth.Claims, []auth.Access, error) {
	// Count scopes after splitting: one parameter may hold several.
	var asked []string
	for _, sc := range scopes {
		asked = append(asked, strings.Fields(sc)...)
	}
	if len(asked) > maxScopes {
		return "", auth.Claims{}, nil, errcode.New(errcode.Denied, "at most %d scopes per token request", maxScopes)
	}
	var access []auth.Access
	for _, one := range asked {
		a, err := s.grant(r, c, one)
		if err != nil {
			return "", auth.Claims{}, nil, err
		}
		if a != nil {
			access = append(access, *a)
		}
	}
	var groups []string
	if auth.Keyless(c.Principal.User) {
		groups = c.Principal.Groups
	}
	tok, claims, err := s.issuer.IssueUntil(r.Context(), subject(c.Principal), groups, access, c.Expires)
	if errors.Is(err, auth.ErrNoLifetime) {
		return "", claims, nil, errcode.New(errcode.Unauthorized, "the credentials expire within the second; log in again")
	}
	return tok, claims, access, err
}

// lifetime is how long an issued token lives, in seconds.
func lifetime(c auth.Claims) int {
	return int(c.ExpiresAt.Sub(c.IssuedAt.Time).Seconds())
}

// credentialError answers a failed authentication: 401 with the
// authenticator's own message for bad credentials; anything else (a
// storage or issuer outage) 503, logged here, once: its text is for
// operators, never the client.
func (s *TokenService) credentialError(r *http.Request, err error) error {
	var ae *AuthError
	if errors.As(err, &ae) {
		if ae.Detail != "" {
			s.log.InfoContext(r.Context(), "token request refused", "reason", ae.Msg, "detail", ae.Detail)
		}
		return errcode.New(errcode.Unauthorized, "%s", ae.Msg)
	}
	s.log.ErrorContext(r.Context(), "token request: credential check failed", "error", err.Error())
	return errcode.New(errcode.Unavailable, "the registry could not check credentials just now; try again").WithHeader("Retry-After", "1")
}

func subject(p auth.Principal) string {
	if p.Anonymous() {
		return ""
	}
	return p.String()
}

// grant returns the access a principal gets for one scope
// ("repository:<name>:<actions>" or "registry:catalog:*"), or nil.
func (s *TokenService) grant(r *http.Request, c Credentials, scope string) (*auth.Access, error) {
	p := c.Principal
	typ, rest, ok := strings.Cut(scope, ":")
	i := strings.LastIndex(rest, ":")
	if !ok || i < 0 {
		return nil, errcode.New(errcode.Unsupported, "malformed scope %q; expected type:name:actions", scope).WithStatus(http.StatusBadRequest)
	}
	name, actions := rest[:i], strings.Split(rest[i+1:], ",")
	switch typ {
	case "registry":
		if name == "catalog" && !p.Anonymous() && slices.Contains(actions, "*") && (c.Via != "bearer" || c.Claims.Allows("registry", "catalog", "*")) {
			return &auth.Access{Type: "registry", Name: "catalog", Actions: []string{"*"}}, nil
		}
		return nil, nil
	case "repository":
	default:
		return nil, nil
	}
	if oci.ValidName(name) != nil {
		return nil, errcode.New(errcode.NameInvalid, "invalid repository name %q in scope", name)
	}
	// Policy decides for Basic and keyless credentials; a registry
	// token given as a password grants what it grants, no more.
	v, err := s.authz.Verb(r.Context(), c, name)
	if err != nil {
		return nil, err
	}
	var granted []string
	for _, a := range actions {
		need := auth.Manage
		switch a {
		case "pull":
			need = auth.Read
		case "push":
			need = auth.Use
		case "delete", "*":
		default:
			continue
		}
		if v >= need && !slices.Contains(granted, a) {
			granted = append(granted, a)
		}
	}
	if len(granted) == 0 {
		return nil, nil
	}
	return &auth.Access{Type: "repository", Name: name, Actions: granted}, nil
}

// record appends a login to the audit trail; a keyless login's entry
// names the OIDC token's issuer and subject and the rules it met.
func (s *TokenService) record(r *http.Request, c Credentials, action string) {
	if s.audit == nil {
		return
	}
	detail := ""
	if c.Federation != nil {
		detail = c.Federation.String()
	}
	if err := s.audit.AppendAudit(r.Context(), NewAuditEvent(s.authz.now(), c.Principal, action, "", detail)); err != nil {
		s.log.WarnContext(r.Context(), "audit write failed", "error", err.Error())
	}
}

// NewAuditEvent makes an audit event at now (the process's one clock,
// shared/clock: a test clock stamps the trail as it stamps everything
// else) with a time-ordered id.
func NewAuditEvent(now time.Time, p auth.Principal, action, target, detail string) store.AuditEvent {
	now = now.UTC()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return store.AuditEvent{
		Tenancy: p.Tenancy, Time: now,
		ID:        now.Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b),
		Principal: p.String(), Action: action, Target: target, Detail: detail,
	}
}

// auditIDForm is the form of the ids NewAuditEvent makes
// (textform.Layout).
const auditIDForm = "ddddddddTdddddd.dddddddddZ-xxxxxxxx"

// ValidAuditID reports whether s is an audit event id, the only cursor
// the audit trail is paged with.
func ValidAuditID(s string) bool { return textform.Layout(s, auditIDForm) }
