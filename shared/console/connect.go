package console

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
)

// connectView is the Connect page's data: the commands that connect a
// client to this registry as a chosen user.
type connectView struct {
	Registry string
	// Login is the chosen user's login, <tenancy>/<user>.
	Login, User string
	// Secret is a Kubernetes Secret of type dockerconfigjson for the
	// user, with a placeholder where its auth token goes.
	Secret string
	// Scheme is http for a loopback registry (berth login takes the
	// URL), https otherwise.
	Scheme string
}

// tokenPlaceholder stands where an auth token goes: the console never
// shows a stored token (it keeps only their hashes).
const tokenPlaceholder = "<auth token>"

// GET /console/connect?user=: how to log in with docker, a Kubernetes
// imagePullSecret for a user of the tenancy, and how to push layers
// over the gateway's limit.
func (c *Console) connect(w http.ResponseWriter, r *http.Request, p *Page) error {
	user := strings.TrimSpace(r.URL.Query().Get("user"))
	if user == "" {
		user = p.Who.User
		if p.Tenancy != p.Who.Tenancy {
			user = "admin"
		}
	}
	if err := auth.CheckUser(user); err != nil {
		return errcode.New(errcode.Invalid, "%v", err)
	}
	login := p.Tenancy + "/" + user
	v := connectView{Registry: p.Host, Login: login, User: user, Scheme: "https"}
	if loopbackHost(p.Host) {
		v.Scheme = "http"
	}
	var cfg strings.Builder
	enc := json.NewEncoder(&cfg)
	enc.SetEscapeHTML(false) // the page escapes; "<auth token>" reads as typed
	_ = enc.Encode(map[string]any{"auths": map[string]any{p.Host: map[string]string{"username": login, "password": tokenPlaceholder}}})
	v.Secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: berth-pull\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '" +
		strings.TrimSpace(cfg.String()) + "'\n"
	p.Title, p.Nav, p.Data = "Connect", "connect", v
	return c.render(w, http.StatusOK, "connect", p)
}

// loopbackHost reports whether a Host names this machine.
func loopbackHost(host string) bool {
	h := host
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.Trim(h, "[]")
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
}
