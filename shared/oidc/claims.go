package oidc

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/berth-registry/berth/shared/auth"
)

// Claims are a verified token's claims.
type Claims struct {
	Issuer   string
	Subject  string
	Audience []string
	Expires  time.Time
	raw      map[string]any
}

func newClaims(mc jwt.MapClaims) (*Claims, error) {
	c := &Claims{raw: mc}
	c.Issuer, _ = mc["iss"].(string)
	c.Subject, _ = mc["sub"].(string)
	aud, err := mc.GetAudience()
	if err != nil {
		return nil, fmt.Errorf("%w: aud: %v", ErrMalformed, err)
	}
	c.Audience = aud
	exp, err := mc.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, fmt.Errorf("%w: exp", ErrExpired)
	}
	c.Expires = exp.Time
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no sub claim", ErrMalformed)
	}
	return c, nil
}

// HasAudience reports whether the token was issued for aud.
func (c *Claims) HasAudience(aud string) bool { return slices.Contains(c.Audience, aud) }

// Values returns a claim's values as strings: a string, a number or a
// boolean is one value; an array its scalar elements; an object none.
func (c *Claims) Values(name string) []string {
	var out []string
	add := func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, x.String())
		case bool:
			out = append(out, fmt.Sprint(x))
		}
	}
	switch x := c.raw[name].(type) {
	case []any:
		for _, v := range x {
			add(v)
		}
	default:
		add(x)
	}
	return out
}

// Meets reports whether every condition holds: claim name → value,
// exact, or a glob where '*' matches any characters ('/' included). An
// array claim meets a condition when one of its elements does. The
// first condition that fails is returned, for the log.
func (c *Claims) Meets(conditions map[string]string) (ok bool, failed string) {
	names := make([]string, 0, len(conditions))
	for n := range conditions {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		want := conditions[n]
		if !slices.ContainsFunc(c.Values(n), func(v string) bool { return match(want, v) }) {
			return false, n
		}
	}
	return true, ""
}

func match(pattern, v string) bool {
	if strings.Contains(pattern, "*") {
		return auth.GlobMatch(pattern, v)
	}
	return pattern == v
}
