package boundary

import (
	"encoding/json"
	"net/http"
	"strings"
)

// endpoint is an admin or retention API request with slots: {t}
// tenancy, {u} user, {g} group, {p} policy, {id} token id, {repo}
// repository name, {d} digest, {run} run id, {c} cursor. The body's
// string values may hold slots too.
type endpoint struct {
	method, path string
	body         map[string]any
}

// slotDefaults are valid values (that mostly name nothing, so an answer
// is about the slot under test).
var slotDefaults = map[string]string{
	"t": "dev", "u": "ghost", "g": "ghosts", "p": "ghost", "id": a(16),
	"repo": "dev/app", "d": appDigest, "run": "20260101T000000.000Z-abcdef", "c": "",
}

// slotValues are the boundary values of each slot.
var slotValues = map[string][]value{
	"t": tenancies, "u": users, "g": groupNames, "p": policyNames, "id": tokenIDs,
	"repo": repoNames, "d": digests, "run": cursors, "c": cursors,
}

var adminEndpoints = []endpoint{
	{"GET", "/api/tenancies/{t}", nil},
	{"POST", "/api/tenancies", map[string]any{"name": "{t}"}},
	{"GET", "/api/tenancies/{t}/users", nil},
	{"POST", "/api/tenancies/{t}/users", map[string]any{"name": "{u}", "groups": []any{"{g}"}}},
	{"GET", "/api/tenancies/{t}/users/{u}", nil},
	{"PUT", "/api/tenancies/{t}/users/{u}", map[string]any{"groups": []any{"{g}"}}},
	{"GET", "/api/tenancies/{t}/users/{u}/tokens", nil},
	{"POST", "/api/tenancies/{t}/users/{u}/tokens", map[string]any{"description": "{c}"}},
	{"DELETE", "/api/tenancies/{t}/users/{u}/tokens/{id}", nil},
	{"GET", "/api/tenancies/{t}/groups", nil},
	{"POST", "/api/tenancies/{t}/groups", map[string]any{"name": "{g}"}},
	{"GET", "/api/tenancies/{t}/groups/{g}", nil},
	{"GET", "/api/tenancies/{t}/policies", nil},
	{"POST", "/api/tenancies/{t}/policies", map[string]any{"name": "{p}", "statements": []any{"allow group {g} to read repos in tenancy"}}},
	{"GET", "/api/tenancies/{t}/policies/{p}", nil},
	{"PUT", "/api/tenancies/{t}/policies/{p}", map[string]any{"statements": []any{"allow group ghosts to read repos in tenancy"}}},
	{"GET", "/api/tenancies/{t}/federation-rules", nil},
	{"POST", "/api/tenancies/{t}/federation-rules", map[string]any{"name": "{p}", "issuer": "https://ci.example.com", "audience": "berth",
		"claims": map[string]any{"sub": "{u}"}, "group": "{g}"}},
	{"GET", "/api/tenancies/{t}/federation-rules/{p}", nil},
	{"PUT", "/api/tenancies/{t}/federation-rules/{p}", map[string]any{"issuer": "https://ci.example.com", "audience": "berth",
		"claims": map[string]any{"sub": "system:serviceaccount:ci:builder"}, "group": "ghosts"}},
	{"GET", "/api/tenancies/{t}/audit?before={c}", nil},
	{"GET", "/api/repositories?tenancy={t}&last={c}", nil},
	{"POST", "/api/repositories", map[string]any{"name": "{repo}"}},
	{"GET", "/api/repositories/{repo}", nil},
	{"PATCH", "/api/repositories/{repo}", map[string]any{"public": false}},
	{"GET", "/api/images/{repo}@{d}", nil},
	// Deletes last, so that what the others made is there to read.
	{"DELETE", "/api/tenancies/{t}/policies/{p}", nil},
	{"DELETE", "/api/tenancies/{t}/federation-rules/{p}", nil},
	{"DELETE", "/api/tenancies/{t}/groups/{g}", nil},
	{"DELETE", "/api/tenancies/{t}/users/{u}", nil},
}

var retentionEndpoints = []endpoint{
	{"GET", "/api/retention/policies?tenancy={t}", nil},
	{"GET", "/api/retention/policies/{p}?tenancy={t}", nil},
	{"POST", "/api/retention/policies", map[string]any{"tenancy": "{t}", "name": "{p}", "untaggedDays": 30}},
	{"PUT", "/api/retention/policies/{p}", map[string]any{"tenancy": "{t}", "untaggedDays": 30}},
	{"PATCH", "/api/retention/policies/{p}?dryRun=true", map[string]any{"tenancy": "{t}", "untaggedDays": 7}},
	{"PATCH", "/api/retention/policies/{p}", map[string]any{"tenancy": "{t}", "exemptTags": []any{"{c}"}}},
	{"GET", "/api/retention/repositories/{repo}", nil},
	{"PUT", "/api/retention/repositories/{repo}", map[string]any{"policy": "{p}"}},
	{"GET", "/api/retention/runs?tenancy={t}&before={c}", nil},
	{"POST", "/api/retention/runs", map[string]any{"repository": "{repo}", "dryRun": true}},
	{"GET", "/api/retention/runs/{run}?tenancy={t}", nil},
	{"GET", "/api/retention/runs/{run}/decisions?tenancy={t}&after={c}", nil},
	{"POST", "/api/retention/runs/{run}/restore?tenancy={t}", nil},
	{"GET", "/api/retention/bin?repository={repo}&after={c}", nil},
	{"POST", "/api/retention/bin/restore", map[string]any{"repository": "{repo}", "digest": "{d}"}},
	{"GET", "/api/retention/pins?repository={repo}", nil},
	{"PUT", "/api/retention/pins/{repo}@{d}", map[string]any{"note": "{c}"}},
	{"GET", "/api/retention/images/{repo}@{d}", nil},
	{"DELETE", "/api/retention/pins/{repo}@{d}", nil},
	{"DELETE", "/api/retention/repositories/{repo}", nil},
	{"DELETE", "/api/retention/policies/{p}?tenancy={t}", nil},
}

func adminProbes() []probe     { return endpointProbes(adminEndpoints) }
func retentionProbes() []probe { return endpointProbes(retentionEndpoints) }

// endpointProbes sends each endpoint with valid values, then with each
// of its slots over the slot's boundary values.
func endpointProbes(eps []endpoint) []probe {
	var ps []probe
	for _, ep := range eps {
		ps = append(ps, ep.probe("valid values", nil))
		for _, slot := range ep.slots() {
			for _, v := range slotValues[slot] {
				p := ep.probe(label(slot, v), map[string]string{slot: v.raw})
				if !v.valid && (slot != "c" || strings.Contains(ep.path, "{c}")) {
					p.want = "4xx" // a description or note may hold anything
				}
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// slots are the slots the endpoint's path, query and body name.
func (ep endpoint) slots() []string {
	b, _ := json.Marshal(ep.body)
	text := ep.path + string(b)
	var out []string
	for _, s := range []string{"t", "u", "g", "p", "id", "repo", "d", "run", "c"} {
		if strings.Contains(text, "{"+s+"}") {
			out = append(out, s)
		}
	}
	return out
}

// probe fills the endpoint's slots: the defaults, with set instead.
func (ep endpoint) probe(what string, set map[string]string) probe {
	val := func(s string) string {
		if v, ok := set[s]; ok {
			return v
		}
		return slotDefaults[s]
	}
	path, query, _ := strings.Cut(ep.path, "?")
	for s := range slotDefaults {
		switch s {
		case "repo":
			path = strings.ReplaceAll(path, "{repo}", nameOf(val(s)))
		default:
			path = strings.ReplaceAll(path, "{"+s+"}", seg(val(s)))
		}
		query = strings.ReplaceAll(query, "{"+s+"}", q(val(s)))
	}
	target := path
	if query != "" {
		target += "?" + query
	}
	p := probe{name: ep.method + " " + ep.path + " " + what, method: ep.method, target: target}
	if ep.body != nil {
		b, _ := json.Marshal(fill(ep.body, val))
		p.body, p.header = b, http.Header{"Content-Type": {"application/json"}}
	}
	return p
}

// fill replaces slots in the string values of a JSON body.
func fill(v any, val func(string) string) any {
	switch x := v.(type) {
	case string:
		for s := range slotDefaults {
			x = strings.ReplaceAll(x, "{"+s+"}", val(s))
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fill(e, val)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = fill(e, val)
		}
		return out
	}
	return v
}
