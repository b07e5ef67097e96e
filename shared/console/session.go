package console

import (
	"net/http"
	"time"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/route"
)

// signInView is the sign-in page's data.
type signInView struct {
	Login, Next string
	// Problem says why the last attempt failed ("" on a first visit).
	Problem string
}

// signInProblems words the codes the sign-in handler (the token
// function's authz.Sessions) sends the browser back with.
var signInProblems = map[string]string{
	"invalid":     "That login and auth token did not match. Check the tenancy, user name and token, and that the token is not revoked or expired.",
	"unavailable": "The registry could not check your credentials just now. Try again in a moment.",
	"signed-out":  "",
}

// GET /console/sign-in: the sign-in form, whose POST the token function
// serves. A browser already signed in goes where it was going.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	next := authz.LocalConsolePath(q.Get("next"))
	if d, ok := authz.DecisionFrom(r.Context()); ok && !d.Principal.Anonymous() && q.Get("error") == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	v := signInView{Login: q.Get("login"), Problem: signInProblems[q.Get("error")]}
	if next != route.ConsolePath {
		v.Next = next
	}
	p := &Page{Title: "Sign in", Path: r.URL.Path, Data: v, now: c.cfg.Now()}
	if q.Get("error") == "signed-out" {
		p.Notice = "You are signed out."
	}
	status := http.StatusOK
	if v.Problem != "" {
		status = http.StatusUnauthorized
	}
	if err := c.render(w, status, "sign-in", p); err != nil {
		c.fail(w, r, p, err)
	}
}

// POST /console/sign-out ends the session: the browser drops the
// cookie. The token in it stays valid until it expires (or its auth
// token is revoked), but no browser holds it any more.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, authz.SessionCookieFor(r, "", time.Time{}))
	// Clear-Site-Data also drops anything the browser cached of the
	// console's pages.
	w.Header().Set("Clear-Site-Data", `"cache"`)
	http.Redirect(w, r, route.SignInPath+"?error=signed-out", http.StatusSeeOther)
}
