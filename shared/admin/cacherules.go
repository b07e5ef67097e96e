package admin

import (
	"net/http"

	"github.com/berth-registry/berth/shared/pullthrough"
)

// The pull-through cache rules of a tenancy (docs/pull-through.md):
// members read them, administrators write them. No answer carries a
// rule's credentials, only whether it has some; the audit trail records
// each change without them.

// cacheRules returns the rules, or NOT_FOUND where the store keeps none.
func (a *API) cacheRules() (*pullthrough.Rules, error) {
	if a.cfg.CacheRules == nil {
		return nil, notFound("this registry's store keeps no pull-through cache rules")
	}
	return a.cfg.CacheRules, nil
}

// GET /api/tenancies/{t}/cache-rules (members)
func (a *API) listCacheRules(w http.ResponseWriter, r *http.Request, c *call) error {
	rules, err := a.cacheRules()
	if err != nil {
		return err
	}
	if err := a.requireMember(r.Context(), c); err != nil {
		return err
	}
	out, err := rules.List(r.Context(), c.tenancy)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"cacheRules": out})
}

// GET /api/tenancies/{t}/cache-rules/{prefix} (members)
func (a *API) getCacheRule(w http.ResponseWriter, r *http.Request, c *call) error {
	rules, err := a.cacheRules()
	if err != nil {
		return err
	}
	if err := a.requireMember(r.Context(), c); err != nil {
		return err
	}
	rule, err := rules.Get(r.Context(), c.tenancy, c.cacheRule)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, pullthrough.View(rule))
}

// POST /api/tenancies/{t}/cache-rules {"prefix","upstream","library",
// "refreshInterval","credentials"} (administrators)
func (a *API) createCacheRule(w http.ResponseWriter, r *http.Request, c *call) error {
	rules, err := a.cacheRules()
	if err != nil {
		return err
	}
	if err := a.requireAdmin(r.Context(), c, "write cache rules"); err != nil {
		return err
	}
	var in pullthrough.RuleInput
	if err := decode(r, &in); err != nil {
		return err
	}
	v, err := rules.Create(r.Context(), c.tenancy, in)
	if err != nil {
		return err
	}
	a.record(r.Context(), c.who, c.tenancy, "create cache rule", v.Prefix, ruleDetail(v))
	return reply(w, http.StatusCreated, v)
}

// PATCH /api/tenancies/{t}/cache-rules/{prefix} {"upstream","library",
// "refreshInterval","credentials","removeCredentials"} (administrators)
func (a *API) updateCacheRule(w http.ResponseWriter, r *http.Request, c *call) error {
	rules, err := a.cacheRules()
	if err != nil {
		return err
	}
	if err := a.requireAdmin(r.Context(), c, "write cache rules"); err != nil {
		return err
	}
	var p pullthrough.RulePatch
	if err := decode(r, &p); err != nil {
		return err
	}
	v, err := rules.Update(r.Context(), c.tenancy, c.cacheRule, p)
	if err != nil {
		return err
	}
	a.record(r.Context(), c.who, c.tenancy, "change cache rule", v.Prefix, ruleDetail(v))
	return reply(w, http.StatusOK, v)
}

// DELETE /api/tenancies/{t}/cache-rules/{prefix} (administrators): the
// repositories it filled stay, as ordinary repositories.
func (a *API) deleteCacheRule(w http.ResponseWriter, r *http.Request, c *call) error {
	rules, err := a.cacheRules()
	if err != nil {
		return err
	}
	if err := a.requireAdmin(r.Context(), c, "write cache rules"); err != nil {
		return err
	}
	if err := rules.Delete(r.Context(), c.tenancy, c.cacheRule); err != nil {
		return err
	}
	a.record(r.Context(), c.who, c.tenancy, "delete cache rule", c.cacheRule, "")
	return noContent(w)
}

// ruleDetail is what the audit trail says of a rule: never its
// credentials, only whether it has some.
func ruleDetail(v pullthrough.RuleView) string {
	d := "upstream " + v.Upstream + ", refresh " + v.RefreshInterval
	if v.Library {
		d += ", library/ mapping"
	}
	if v.Credentials {
		d += ", with credentials"
	}
	return d
}
