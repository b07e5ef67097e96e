package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/route"
)

// The Access page: users, groups, auth tokens (a new one shown once,
// with its docker login line), policies edited as statements (a
// statement that does not parse is shown with a mark at the column at
// fault), a "can group G do V on repository R?" check decided by the
// authorizer's own code, and the audit trail, filtered. Everything goes
// through admin.API's methods, as /api does: a member who administers
// nothing sees their own tokens, the groups and the policies, and no
// control that would be refused.

// accessRoutes adds the Access page and its forms.
func (c *Console) accessRoutes() {
	const a = route.ConsolePath + "/access"
	c.Handle("GET "+a, c.accessPage)
	c.Handle("POST "+a+"/tokens", c.tokenCreate)
	c.Handle("POST "+a+"/tokens/revoke", c.tokenRevoke)
	c.Handle("POST "+a+"/groups", c.groupCreate)
	c.Handle("POST "+a+"/users", c.userCreate)
	c.Handle("POST "+a+"/users/{user}/groups", c.userGroups)
	c.Handle("POST "+a+"/policies", c.policySave)
	c.Handle("POST "+a+"/policies/{name}/delete", c.policyRemove)
}

// accessView is the Access page's data.
type accessView struct {
	Admin  bool
	Users  []admin.UserView
	Groups []admin.GroupView
	// TokensOf is the user whose tokens are listed; Tokens are theirs.
	TokensOf string
	Tokens   []admin.TokenView
	// Created is a token just created: its secret, shown this once.
	Created *admin.TokenCreated
	// Registry is the host docker logs in to.
	Registry string
	Policies []policyEditor
	// NewPolicy is the form for a new policy (its values after a
	// refused save).
	NewPolicy policyEditor
	Check     checkView
	Audit     auditView
	// Problem is a refused form's message.
	Problem string
}

// policyEditor is a policy as its form shows it: one statement a line,
// and where the parser stopped when it refused one.
type policyEditor struct {
	Name, Text string
	Warnings   []string
	Fault      *statementFault
}

// In reports whether group is among groups (a user's).
func (accessView) In(group string, groups []string) bool {
	for _, g := range groups {
		if g == group {
			return true
		}
	}
	return false
}

// Rows is the editor's height: a line a statement, and one to add.
func (e policyEditor) Rows() int { return strings.Count(e.Text, "\n") + 2 }

// statementFault points at the column of a statement that does not
// parse: the statement, a caret under the column, and the parser's
// message.
type statementFault struct {
	Statement, Column int
	Text, Caret       string
	Problem           string
}

// checkView is the access check's form and answer.
type checkView struct {
	Group, Verb, Repository string
	Answer                  *admin.AccessCheck
	Problem                 string
}

// Verbs are the policy verbs, weakest first.
func (checkView) Verbs() []string { return []string{"inspect", "read", "use", "manage"} }

// auditView is the audit trail's filter and page.
type auditView struct {
	Principal, Action, Target, Before string
	Page                              admin.AuditPage
}

// GET /console/access
func (c *Console) accessPage(w http.ResponseWriter, r *http.Request, p *Page) error {
	v := &accessView{}
	return c.renderAccess(w, r, p, v, http.StatusOK)
}

// renderAccess fills v with what the actor may see and renders it.
func (c *Console) renderAccess(w http.ResponseWriter, r *http.Request, p *Page, v *accessView, status int) error {
	ctx := r.Context()
	q := r.URL.Query()
	adm, t := c.cfg.Admin, p.Tenancy
	v.Admin, v.Registry = p.Who.Admin(t), p.Host
	var err error
	if v.Admin {
		if v.Users, err = adm.Users(ctx, p.Who, t); err != nil {
			return err
		}
	}
	if v.Groups, err = adm.Groups(ctx, p.Who, t); err != nil {
		return err
	}
	if v.TokensOf == "" {
		v.TokensOf = q.Get("user")
	}
	if v.TokensOf == "" || !v.Admin {
		v.TokensOf = p.Who.User
		if t != p.Who.Tenancy {
			v.TokensOf = "admin"
		}
	}
	if v.Tokens, err = adm.Tokens(ctx, p.Who, t, v.TokensOf); err != nil {
		return err
	}
	ps, err := adm.Policies(ctx, p.Who, t)
	if err != nil {
		return err
	}
	kept := v.Policies // a refused or warned edit: shown as sent
	v.Policies = nil
	for _, pol := range ps {
		e := policyEditor{Name: pol.Name, Text: strings.Join(pol.Statements, "\n")}
		for _, k := range kept {
			if k.Name == pol.Name {
				e = k
			}
		}
		v.Policies = append(v.Policies, e)
	}
	if v.Admin {
		if err := c.accessCheck(r, p, v); err != nil {
			return err
		}
		v.Audit = auditView{Principal: q.Get("principal"), Action: q.Get("action"), Target: q.Get("target"), Before: q.Get("before")}
		if v.Audit.Page, err = adm.Audit(ctx, p.Who, t, admin.AuditQuery{Before: v.Audit.Before, Limit: 50,
			Principal: v.Audit.Principal, Action: v.Audit.Action, Target: v.Audit.Target}); err != nil {
			return err
		}
	}
	p.Title, p.Nav, p.Data = "Access", "access", v
	return c.render(w, status, "access", p)
}

// accessCheck answers the check form when it was sent (?group=).
func (c *Console) accessCheck(r *http.Request, p *Page, v *accessView) error {
	q := r.URL.Query()
	v.Check = checkView{Group: q.Get("group"), Verb: q.Get("verb"), Repository: strings.TrimSpace(q.Get("repository"))}
	if v.Check.Group == "" {
		return nil
	}
	if v.Check.Repository != "" && !strings.HasPrefix(v.Check.Repository, p.Tenancy+"/") {
		// The check is about this tenancy: a name is taken within it.
		v.Check.Repository = p.Tenancy + "/" + v.Check.Repository
	}
	ans, err := c.cfg.Admin.CheckAccess(r.Context(), p.Who, p.Tenancy, v.Check.Group, v.Check.Verb, v.Check.Repository)
	if msg, ok := formProblem(err); ok {
		v.Check.Problem = msg
		return nil
	} else if err != nil {
		return err
	}
	v.Check.Answer = &ans
	return nil
}

// formProblem is the message of an error a form shows beside itself (a
// refused value: 4xx but for 403, which is a page), and whether err is
// one.
func formProblem(err error) (string, bool) {
	var e *errcode.Error
	if err == nil || !errors.As(err, &e) {
		return "", false
	}
	if s := e.HTTPStatus(); s >= 500 || s == http.StatusForbidden || s == http.StatusUnauthorized {
		return "", false
	}
	return e.Message, true
}

// POST /console/access/tokens (user, description, days): the new
// token, shown once on the page that answers (never in a URL).
func (c *Console) tokenCreate(w http.ResponseWriter, r *http.Request, p *Page) error {
	user := strings.TrimSpace(r.PostFormValue("user"))
	days, err := strconv.Atoi(cmpOr(strings.TrimSpace(r.PostFormValue("days")), strconv.Itoa(admin.DefaultTokenDays)))
	if err != nil {
		days = -1 // refused below with the API's message
	}
	tok, err := c.cfg.Admin.CreateToken(r.Context(), p.Who, p.Tenancy, user, strings.TrimSpace(r.PostFormValue("description")), days)
	v := &accessView{TokensOf: user}
	if msg, ok := formProblem(err); ok {
		v.Problem = msg
		return c.renderAccess(w, r, p, v, http.StatusUnprocessableEntity)
	} else if err != nil {
		return err
	}
	v.Created = &tok
	return c.renderAccess(w, r, p, v, http.StatusOK)
}

// POST /console/access/tokens/revoke (user, id)
func (c *Console) tokenRevoke(w http.ResponseWriter, r *http.Request, p *Page) error {
	user := r.PostFormValue("user")
	if err := c.cfg.Admin.RevokeToken(r.Context(), p.Who, p.Tenancy, user, r.PostFormValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, p.Link("/access", "user", user)+"#tokens", http.StatusSeeOther)
	return nil
}

// POST /console/access/groups (name, description)
func (c *Console) groupCreate(w http.ResponseWriter, r *http.Request, p *Page) error {
	_, err := c.cfg.Admin.CreateGroup(r.Context(), p.Who, p.Tenancy, strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("description")))
	if msg, ok := formProblem(err); ok {
		return c.renderAccess(w, r, p, &accessView{Problem: msg}, http.StatusUnprocessableEntity)
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, p.Link("/access")+"#groups", http.StatusSeeOther)
	return nil
}

// POST /console/access/users (name, groups)
func (c *Console) userCreate(w http.ResponseWriter, r *http.Request, p *Page) error {
	if err := r.ParseForm(); err != nil {
		return errcode.New(errcode.Invalid, "the form could not be read")
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	_, err := c.cfg.Admin.CreateUser(r.Context(), p.Who, p.Tenancy, name, r.PostForm["groups"])
	if msg, ok := formProblem(err); ok {
		return c.renderAccess(w, r, p, &accessView{Problem: msg}, http.StatusUnprocessableEntity)
	} else if err != nil {
		return err
	}
	// Straight to the new user's tokens: a user logs in with one.
	http.Redirect(w, r, p.Link("/access", "user", name)+"#tokens", http.StatusSeeOther)
	return nil
}

// POST /console/access/users/{user}/groups (groups): the user's groups
// become exactly those ticked.
func (c *Console) userGroups(w http.ResponseWriter, r *http.Request, p *Page) error {
	if err := r.ParseForm(); err != nil {
		return errcode.New(errcode.Invalid, "the form could not be read")
	}
	groups := r.PostForm["groups"]
	if groups == nil {
		groups = []string{}
	}
	_, err := c.cfg.Admin.SetGroups(r.Context(), p.Who, p.Tenancy, r.PathValue("user"), groups)
	if msg, ok := formProblem(err); ok {
		return c.renderAccess(w, r, p, &accessView{Problem: msg}, http.StatusUnprocessableEntity)
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, p.Link("/access")+"#users", http.StatusSeeOther)
	return nil
}

// POST /console/access/policies (name, statements, new): save a
// policy; a statement that does not parse comes back marked at its
// column.
func (c *Console) policySave(w http.ResponseWriter, r *http.Request, p *Page) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	text := r.PostFormValue("statements")
	var stmts []string
	for _, line := range strings.Split(text, "\n") {
		if s := strings.TrimSpace(line); s != "" {
			stmts = append(stmts, s)
		}
	}
	create := r.PostFormValue("new") != ""
	pv, err := c.cfg.Admin.PutPolicy(r.Context(), p.Who, p.Tenancy, name, stmts, create)
	ed := policyEditor{Name: name, Text: strings.Join(stmts, "\n")}
	if err != nil {
		msg, ok := formProblem(err)
		if !ok {
			return err
		}
		v := &accessView{Problem: msg}
		var e *errcode.Error
		if errors.As(err, &e) {
			if sp, ok := e.Detail.(admin.StatementProblem); ok && sp.Statement <= len(stmts) {
				st := stmts[sp.Statement-1]
				ed.Fault = &statementFault{Statement: sp.Statement, Column: sp.Column, Text: st, Problem: sp.Problem,
					Caret: strings.Repeat(" ", max(sp.Column-1, 0)) + "^"}
			}
		}
		if create {
			v.NewPolicy = ed
		} else {
			v.Policies = []policyEditor{ed}
		}
		return c.renderAccess(w, r, p, v, http.StatusUnprocessableEntity)
	}
	if len(pv.Warnings) > 0 {
		ed.Warnings = pv.Warnings
		p.Notice = "Saved policy " + name + ", with warnings."
		return c.renderAccess(w, r, p, &accessView{Policies: []policyEditor{ed}}, http.StatusOK)
	}
	http.Redirect(w, r, p.Link("/access")+"#policies", http.StatusSeeOther)
	return nil
}

// POST /console/access/policies/{name}/delete
func (c *Console) policyRemove(w http.ResponseWriter, r *http.Request, p *Page) error {
	if err := c.cfg.Admin.DeletePolicy(r.Context(), p.Who, p.Tenancy, r.PathValue("name")); err != nil {
		return err
	}
	http.Redirect(w, r, p.Link("/access")+"#policies", http.StatusSeeOther)
	return nil
}
