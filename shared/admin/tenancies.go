package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/store"
)

// tenancyView is a tenancy as the API shows it.
type tenancyView struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created,omitzero"`
}

// tenancyCreated answers a tenancy's creation: its first administrator
// and that user's auth token, shown this once.
type tenancyCreated struct {
	tenancyView
	Login string       `json:"login"`
	Token tokenCreated `json:"token"`
}

// GET /api/tenancies: every tenancy for an administrator of the
// bootstrap tenancy, else the caller's own.
func (a *API) listTenancies(w http.ResponseWriter, r *http.Request, c *call) error {
	var ts []store.Tenancy
	if c.who.Super {
		var err error
		if ts, err = a.ids.ListTenancies(r.Context()); err != nil {
			return err
		}
	} else {
		t, err := a.ids.GetTenancy(r.Context(), c.who.Tenancy)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		} else if err == nil {
			ts = append(ts, t)
		}
	}
	out := make([]tenancyView, 0, len(ts))
	for _, t := range ts {
		out = append(out, tenancyView{Name: t.Name, Created: t.Created})
	}
	return reply(w, http.StatusOK, map[string]any{"tenancies": out})
}

// GET /api/tenancies/{t}
func (a *API) getTenancy(w http.ResponseWriter, r *http.Request, c *call) error {
	if !c.who.Member(c.tenancy) {
		return denied("%s may only act in its own tenancy, %s", c.who, c.who.Tenancy)
	}
	t, err := a.ids.GetTenancy(r.Context(), c.tenancy)
	if err != nil {
		return missing(err, "tenancy %q does not exist", c.tenancy)
	}
	return reply(w, http.StatusOK, tenancyView{Name: t.Name, Created: t.Created})
}

// POST /api/tenancies {"name"}: a new tenancy with an administrators
// group and an "admin" user in it, whose first auth token is answered
// once.
func (a *API) createTenancy(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if !c.who.Super {
		return denied("only administrators of tenancy %s create tenancies", a.cfg.Tenancy)
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkTenancyName(req.Name); err != nil {
		return err
	}
	now := a.now().UTC()
	t := store.Tenancy{Name: req.Name, Created: now}
	if err := a.ids.CreateTenancy(ctx, t); errors.Is(err, store.ErrExists) {
		return conflict("tenancy %q already exists", req.Name)
	} else if err != nil {
		return err
	}
	if err := a.ids.PutGroup(ctx, store.Group{Tenancy: t.Name, Name: auth.AdminGroup, Description: "manages everything in the tenancy", Created: now}); err != nil {
		return err
	}
	if err := a.ids.PutUser(ctx, store.User{Tenancy: t.Name, Name: "admin", Groups: []string{auth.AdminGroup}, Created: now}); err != nil {
		return err
	}
	tok, err := a.issueToken(ctx, t.Name, "admin", "created with the tenancy", DefaultTokenDays)
	if err != nil {
		return err
	}
	a.record(ctx, c.who, c.who.Tenancy, "create tenancy", t.Name, "")
	a.record(ctx, c.who, t.Name, "create tenancy", t.Name, "first administrator: "+t.Name+"/admin")
	return reply(w, http.StatusCreated, tenancyCreated{
		tenancyView: tenancyView{Name: t.Name, Created: t.Created},
		Login:       t.Name + "/admin",
		Token:       tok,
	})
}
