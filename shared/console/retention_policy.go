package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/store"
)

// The policy form: create or edit the global policy or an override
// (criteria, exempt tags, breaker limits and, for an override, its
// repositories). Its first button previews — a dry run of the change,
// "this change deletes N images" — and only a previewed change can be
// saved, with If-Match on the version the preview read, so what was
// previewed is what is saved.

// policyForm is the form's values as typed, its errors by field, and
// the preview when one was asked for.
type policyForm struct {
	New, Global bool
	Name        string
	// The fields, as typed.
	NotPulledDays, UntaggedDays, ExemptTags, MaxDeleteShare, MaxDeleteCount string
	Repositories                                                            []string
	// Version is the policy version the preview read ("": none yet).
	Version string
	// Errors are messages by field name ("name", "notPulledDays", ...);
	// Error is the form's own.
	Errors map[string]string
	Error  string
	// Preview is the dry run's answer.
	Preview *retention.PolicyAnswer
	// Choices are the tenancy's repositories, each with the override
	// that governs it now (Others: another override's).
	Choices []repoChoice
}

// repoChoice is a repository the form may assign.
type repoChoice struct {
	Name, Policy string
	Checked      bool
	Other        bool
}

// Has reports whether the form assigns repo.
func (f *policyForm) Has(repo string) bool {
	for _, r := range f.Repositories {
		if r == repo {
			return true
		}
	}
	return false
}

// GET /console/retention/policies/new
func (c *Console) policyNew(w http.ResponseWriter, r *http.Request, p *Page) error {
	f := &policyForm{New: true, Errors: map[string]string{}}
	return c.policyPage(w, r, p, f, http.StatusOK)
}

// GET /console/retention/policies/{name}: the form filled with the
// policy as stored.
func (c *Console) policyEdit(w http.ResponseWriter, r *http.Request, p *Page) error {
	name := r.PathValue("name")
	ps, err := c.cfg.Retention.Policies(r.Context(), p.Who, p.Tenancy)
	if err != nil {
		return err
	}
	for _, pv := range ps {
		if pv.Name != name {
			continue
		}
		f := &policyForm{Name: name, Global: name == store.GlobalPolicy, Errors: map[string]string{}, Repositories: pv.Repositories,
			NotPulledDays: days(pv.NotPulledDays), UntaggedDays: days(pv.UntaggedDays), ExemptTags: strings.Join(pv.ExemptTags, ", ")}
		if pv.MaxDeleteShare != 0 {
			f.MaxDeleteShare = strconv.FormatFloat(pv.MaxDeleteShare*100, 'f', -1, 64)
		}
		if pv.MaxDeleteCount != 0 {
			f.MaxDeleteCount = strconv.Itoa(pv.MaxDeleteCount)
		}
		return c.policyPage(w, r, p, f, http.StatusOK)
	}
	return errcode.New(errcode.NotFound, "retention policy %q does not exist in tenancy %s", name, p.Tenancy)
}

func days(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// policyPage renders the form with the tenancy's repositories to choose
// from.
func (c *Console) policyPage(w http.ResponseWriter, r *http.Request, p *Page, f *policyForm, status int) error {
	ctx := r.Context()
	if !f.Global {
		names, _, err := c.repoNames(ctx, p)
		if err != nil {
			return err
		}
		ps, err := c.cfg.Retention.Policies(ctx, p.Who, p.Tenancy)
		if err != nil {
			return err
		}
		under := map[string]string{}
		for _, pv := range ps {
			for _, repo := range pv.Repositories {
				under[repo] = pv.Name
			}
		}
		for _, n := range names {
			ch := repoChoice{Name: n, Policy: under[n], Checked: f.Has(n)}
			ch.Other = ch.Policy != "" && ch.Policy != f.Name
			f.Choices = append(f.Choices, ch)
		}
	}
	p.Title, p.Nav, p.Data = "New override policy", "retention", f
	if !f.New {
		p.Title = "Retention policy " + f.Name
	}
	return c.render(w, status, "retention-policy", p)
}

// POST /console/retention/policies[/{name}] (action=preview|save): a
// preview answers the form with the dry run; a save of a previewed
// change writes it and goes back to the Retention page.
func (c *Console) policySubmit(w http.ResponseWriter, r *http.Request, p *Page) error {
	if err := r.ParseForm(); err != nil {
		return errcode.New(errcode.Invalid, "the form could not be read")
	}
	f := &policyForm{Name: r.PathValue("name"), Errors: map[string]string{}}
	if f.Name == "" {
		f.New, f.Name = true, strings.TrimSpace(r.PostFormValue("name"))
	}
	f.Global = f.Name == store.GlobalPolicy
	f.NotPulledDays = strings.TrimSpace(r.PostFormValue("notPulledDays"))
	f.UntaggedDays = strings.TrimSpace(r.PostFormValue("untaggedDays"))
	f.ExemptTags = strings.TrimSpace(r.PostFormValue("exemptTags"))
	f.MaxDeleteShare = strings.TrimSpace(r.PostFormValue("maxDeleteShare"))
	f.MaxDeleteCount = strings.TrimSpace(r.PostFormValue("maxDeleteCount"))
	f.Repositories = r.PostForm["repositories"]
	f.Version = r.PostFormValue("version")
	fields := f.fields()
	if f.New && f.Name == "" {
		f.Errors["name"] = "Name the policy (letters, digits, '-', '_' and '.')."
	}
	if len(f.Errors) > 0 {
		return c.policyPage(w, r, p, f, http.StatusUnprocessableEntity)
	}
	save := r.PostFormValue("action") == "save" && f.Version != ""
	wr := retention.PolicyWrite{Tenancy: p.Tenancy, Name: f.Name, Fields: fields, Mode: retention.ReplaceWhole, DryRun: !save}
	if f.New {
		wr.Mode = retention.CreateOnly
	}
	if save {
		wr.IfMatch = retention.Etag(mustVersion(f.Version))
	}
	ans, _, err := c.cfg.Retention.WritePolicy(r.Context(), p.Who, wr)
	if err != nil {
		var e *errcode.Error
		if !errors.As(err, &e) || e.HTTPStatus() >= 500 || e.HTTPStatus() == http.StatusForbidden {
			return err
		}
		f.Version = ""
		f.place(e)
		return c.policyPage(w, r, p, f, e.HTTPStatus())
	}
	if !save {
		f.Preview, f.Version = &ans, strconv.FormatInt(ans.Version, 10)
		return c.policyPage(w, r, p, f, http.StatusOK)
	}
	http.Redirect(w, r, p.Link("/retention", "notice", "saved", "name", f.Name), http.StatusSeeOther)
	return nil
}

// mustVersion reads a version the preview wrote (a tampered one makes
// If-Match fail, which is a 412 to preview again).
func mustVersion(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// fields turns the form into the JSON fields of a policy write,
// recording a message for each field it cannot read.
func (f *policyForm) fields() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		out[k] = b
	}
	for _, d := range []struct{ k, v string }{{"notPulledDays", f.NotPulledDays}, {"untaggedDays", f.UntaggedDays}} {
		n, err := strconv.Atoi(cmpOr(d.v, "0"))
		if err != nil || n < 0 || n > 3650 {
			f.Errors[d.k] = "A whole number of days from 1 to 3650, or empty for off."
			continue
		}
		set(d.k, n)
	}
	// Never nil: an empty list clears the exempt tags.
	tags := append([]string{}, strings.FieldsFunc(f.ExemptTags, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })...)
	set("exemptTags", tags)
	if share, err := strconv.ParseFloat(cmpOr(f.MaxDeleteShare, "0"), 64); err != nil || share < 0 || share > 100 {
		f.Errors["maxDeleteShare"] = "A percentage from 1 to 100, or empty for the default."
	} else {
		set("maxDeleteShare", share/100)
	}
	if n, err := strconv.Atoi(cmpOr(f.MaxDeleteCount, "0")); err != nil || n < -1 {
		f.Errors["maxDeleteCount"] = "A number of images, -1 for no limit, or empty for the default."
	} else {
		set("maxDeleteCount", n)
	}
	if !f.Global {
		if f.Repositories == nil {
			f.Repositories = []string{}
		}
		set("repositories", f.Repositories)
	}
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// place shows an error the retention API gave next to the field it is
// about (its message names the field), else above the form.
func (f *policyForm) place(e *errcode.Error) {
	msg := e.Message
	if e.HTTPStatus() == http.StatusPreconditionFailed {
		f.Error = "The policy changed since your preview. Preview again to see what saving would do now."
		return
	}
	for _, k := range []string{"repositories", "notPulledDays", "untaggedDays", "maxDeleteShare", "maxDeleteCount"} {
		if strings.Contains(msg, k) {
			f.Errors[k] = msg
			return
		}
	}
	switch {
	case strings.Contains(msg, "exempt tag"):
		f.Errors["exemptTags"] = msg
	case e.Code == errcode.Conflict || strings.Contains(msg, "policy name") || strings.Contains(msg, "name"):
		f.Errors["name"] = msg
	default:
		f.Error = msg
	}
}

// POST /console/retention/policies/{name}/delete
func (c *Console) policyDelete(w http.ResponseWriter, r *http.Request, p *Page) error {
	name := r.PathValue("name")
	if err := c.cfg.Retention.DeletePolicy(r.Context(), p.Who, p.Tenancy, name); err != nil {
		return err
	}
	http.Redirect(w, r, p.Link("/retention", "notice", "deleted", "name", name), http.StatusSeeOther)
	return nil
}
