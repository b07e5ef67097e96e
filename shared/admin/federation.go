package admin

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/oidc"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/textform"
)

// Federation rule limits (docs/keyless.md).
const (
	// MaxFederationRules bounds a tenancy's rules (the authorizer reads
	// no more).
	MaxFederationRules = 50
	// maxConditions bounds a rule's claim conditions.
	maxConditions = 20
	// DefaultRuleLifetime is a rule's maxLifetimeSeconds when the
	// request gives none.
	DefaultRuleLifetime = 15 * 60
	maxRuleLifetime     = 12 * 60 * 60
	minRuleLifetime     = 60
)

// validRuleName reports whether s names a rule: a letter or digit, then
// up to 99 of [A-Za-z0-9._-].
func validRuleName(s string) bool {
	return textform.Name(s, 100, "._-")
}

// validClaimName reports whether s can name a claim: 1 to 100 of
// [A-Za-z0-9_.:/-].
func validClaimName(s string) bool { return textform.Run(s, 1, 100, "_.:/-") }

// validHostName reports whether h is a host name: dot-separated labels,
// each a letter or digit then up to 62 of [A-Za-z0-9-] (its length
// overall is the caller's to check).
func validHostName(h string) bool {
	for label := range strings.SplitSeq(h, ".") {
		if !textform.Name(label, 63, "-") {
			return false
		}
	}
	return true
}

// reservedClaims are checked by every login already, or say nothing a
// rule should rest on.
var reservedClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti"}

// ruleBody is what a client writes of a rule.
type ruleBody struct {
	Issuer             string            `json:"issuer"`
	Audience           string            `json:"audience"`
	Claims             map[string]string `json:"claims"`
	Group              string            `json:"group"`
	MaxLifetimeSeconds int               `json:"maxLifetimeSeconds"`
	JWKSHosts          []string          `json:"jwksHosts"`
}

// ruleView is a rule as the API shows it.
type ruleView struct {
	store.FederationRule
	// Login is the docker login the rule lets in.
	Login string `json:"login"`
}

func viewRule(r store.FederationRule) ruleView {
	return ruleView{FederationRule: r, Login: r.Tenancy + "/" + auth.FederatedUser}
}

// GET /api/tenancies/{t}/federation-rules (members)
func (a *API) listRules(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireMember(r.Context(), c); err != nil {
		return err
	}
	rs, err := a.ids.ListFederationRules(r.Context(), c.tenancy)
	if err != nil {
		return err
	}
	out := make([]ruleView, 0, len(rs))
	for _, x := range rs {
		out = append(out, viewRule(x))
	}
	return reply(w, http.StatusOK, map[string]any{"rules": out})
}

// GET /api/tenancies/{t}/federation-rules/{name} (members)
func (a *API) getRule(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireMember(r.Context(), c); err != nil {
		return err
	}
	x, err := a.ids.GetFederationRule(r.Context(), c.tenancy, c.rule)
	if err != nil {
		return missing(err, "federation rule %q does not exist in tenancy %s", c.rule, c.tenancy)
	}
	return reply(w, http.StatusOK, viewRule(x))
}

// POST /api/tenancies/{t}/federation-rules {"name", ...} creates a rule
// (administrators); PUT on the rule's path creates or replaces.
func (a *API) createRule(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Name string `json:"name"`
		ruleBody
	}
	if err := a.requireAdmin(r.Context(), c, "write federation rules"); err != nil {
		return err
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkRuleName(req.Name); err != nil {
		return err
	}
	if _, err := a.ids.GetFederationRule(r.Context(), c.tenancy, req.Name); err == nil {
		return conflict("federation rule %q already exists in tenancy %s; replace it with PUT (berth federation put)", req.Name, c.tenancy)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	c.rule = req.Name
	return a.writeRule(w, r, c, req.ruleBody, http.StatusCreated)
}

// PUT /api/tenancies/{t}/federation-rules/{name} (administrators)
func (a *API) putRule(w http.ResponseWriter, r *http.Request, c *call) error {
	var req ruleBody
	if err := a.requireAdmin(r.Context(), c, "write federation rules"); err != nil {
		return err
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkRuleName(c.rule); err != nil {
		return err
	}
	return a.writeRule(w, r, c, req, http.StatusOK)
}

// writeRule validates a rule and stores it.
func (a *API) writeRule(w http.ResponseWriter, r *http.Request, c *call, b ruleBody, status int) error {
	ctx := r.Context()
	x, err := a.checkRule(b)
	if err != nil {
		return err
	}
	if _, err := a.checkGroups(ctx, c.tenancy, []string{b.Group}); err != nil {
		return err
	}
	existing, err := a.ids.ListFederationRules(ctx, c.tenancy)
	if err != nil {
		return err
	}
	if len(existing) >= MaxFederationRules && !slices.ContainsFunc(existing, func(e store.FederationRule) bool { return e.Name == c.rule }) {
		return conflict("tenancy %s holds %d federation rules, the most it may; delete one first", c.tenancy, MaxFederationRules)
	}
	x.Tenancy, x.Name, x.Updated = c.tenancy, c.rule, a.now().UTC()
	if err := a.ids.PutFederationRule(ctx, x); err != nil {
		return err
	}
	a.record(ctx, c.who, c.tenancy, "put federation rule", x.Name, describeRule(x))
	return reply(w, status, viewRule(x))
}

// describeRule is a rule's audit detail.
func describeRule(x store.FederationRule) string {
	var conds []string
	for _, k := range slices.Sorted(maps.Keys(x.Claims)) {
		conds = append(conds, k+"="+x.Claims[k])
	}
	return fmt.Sprintf("issuer=%s audience=%s claims=%s group=%s maxLifetimeSeconds=%d", x.Issuer, x.Audience, strings.Join(conds, ","), x.Group, x.MaxLifetimeSeconds)
}

// checkRule checks what a client wrote of a rule, saying what to change.
func (a *API) checkRule(b ruleBody) (store.FederationRule, error) {
	x := store.FederationRule{Issuer: b.Issuer, Audience: b.Audience, Group: b.Group, MaxLifetimeSeconds: b.MaxLifetimeSeconds}
	if _, err := oidc.CheckIssuer(b.Issuer, a.cfg.OIDCLoopback); err != nil {
		return x, invalid("issuer %q: %v; name the issuer URL exactly as its tokens' iss claim does, such as https://token.actions.githubusercontent.com", clipped(b.Issuer), err)
	}
	if !printable(b.Audience, 300) {
		return x, invalid("audience must be 1 to 300 printable characters: the value the tokens' aud claim must hold, such as your registry's URL")
	}
	if len(b.Claims) == 0 {
		return x, invalid(`a rule needs at least one claim condition, such as {"repository": "acme/app"}: the issuer signs tokens for everyone it serves, and the audience is chosen by whoever asks for the token`)
	}
	if len(b.Claims) > maxConditions {
		return x, invalid("a rule holds at most %d claim conditions", maxConditions)
	}
	x.Claims = map[string]string{}
	for k, v := range b.Claims {
		switch {
		case !validClaimName(k):
			return x, invalid("claim name %q must be 1 to 100 characters of letters, digits, '_', '.', ':', '/' and '-'", clipped(k))
		case slices.Contains(reservedClaims, k):
			return x, invalid("claim %q cannot be a condition: issuer, audience and times are checked on every login (set issuer and audience instead)", k)
		case !printable(v, 300):
			return x, invalid("the condition on claim %q must be 1 to 300 printable characters (exact, or with * matching anything)", k)
		}
		x.Claims[k] = v
	}
	var err error
	if x.MaxLifetimeSeconds, err = ruleLifetime(b.MaxLifetimeSeconds); err != nil {
		return x, err
	}
	if len(b.JWKSHosts) > 5 {
		return x, invalid("jwksHosts holds at most 5 hosts")
	}
	for _, h := range b.JWKSHosts {
		if len(h) > 253 || !validHostName(h) {
			return x, invalid("jwksHosts entry %q must be a host name, such as www.googleapis.com (no scheme, port or path)", clipped(h))
		}
		x.JWKSHosts = append(x.JWKSHosts, strings.ToLower(h))
	}
	return x, nil
}

// DELETE /api/tenancies/{t}/federation-rules/{name} (administrators)
func (a *API) deleteRule(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireAdmin(ctx, c, "delete federation rules"); err != nil {
		return err
	}
	if err := a.ids.DeleteFederationRule(ctx, c.tenancy, c.rule); err != nil {
		return missing(err, "federation rule %q does not exist in tenancy %s", c.rule, c.tenancy)
	}
	a.record(ctx, c.who, c.tenancy, "delete federation rule", c.rule, "")
	return noContent(w)
}

// ruleLifetime checks the maxLifetimeSeconds of a federation rule or an
// AWS role mapping, 0 meaning the default.
func ruleLifetime(lt int) (int, error) {
	switch {
	case lt == 0:
		return DefaultRuleLifetime, nil
	case lt < minRuleLifetime || lt > maxRuleLifetime:
		return 0, invalid("maxLifetimeSeconds must be %d to %d (the registry's own token lifetime bounds it too)", minRuleLifetime, maxRuleLifetime)
	}
	return lt, nil
}

func checkRuleName(s string) error {
	if !validRuleName(s) {
		return invalid("federation rule name %q must be 1 to 100 characters of letters, digits, '.', '_' and '-', starting with a letter or digit", clipped(s))
	}
	return nil
}

// printable reports whether s is 1 to max bytes without control
// characters.
func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
