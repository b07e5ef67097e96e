package console_test

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestColoursMeetWCAGContrast checks the console's colour pairs, in the
// light theme and the dark one, against WCAG 2's AA contrast for normal
// text (4.5:1): body and muted text on every background they sit on,
// links and buttons, and each status colour on its soft background.
func TestColoursMeetWCAGContrast(t *testing.T) {
	b, err := os.ReadFile("static/console.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	i := strings.Index(css, "prefers-color-scheme: dark")
	if i < 0 {
		t.Fatal("console.css has no dark theme")
	}
	pairs := [][2]string{
		{"text", "bg"}, {"text", "surface"}, {"text", "code-bg"},
		{"muted", "bg"}, {"muted", "surface"}, {"muted", "code-bg"},
		{"accent", "bg"}, {"accent", "surface"}, {"accent-text", "accent"}, {"accent", "accent-soft"},
		{"danger", "surface"}, {"danger", "danger-soft"}, {"ok", "ok-soft"}, {"warn", "warn-soft"}, {"warn", "surface"},
	}
	for theme, vars := range map[string]map[string]string{"light": colours(css[:i]), "dark": colours(css[i:])} {
		for _, p := range pairs {
			fg, bg := vars[p[0]], vars[p[1]]
			if fg == "" || bg == "" {
				t.Errorf("%s theme: --%s or --%s is not a #rrggbb colour", theme, p[0], p[1])
				continue
			}
			if r := contrast(fg, bg); r < 4.5 {
				t.Errorf("%s theme: --%s %s on --%s %s has contrast %.2f:1, want at least 4.5:1", theme, p[0], fg, p[1], bg, r)
			}
		}
	}
}

var cssColour = regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})\b`)

// colours returns the first value of each custom property in css.
func colours(css string) map[string]string {
	out := map[string]string{}
	for _, m := range cssColour.FindAllStringSubmatch(css, -1) {
		if _, ok := out[m[1]]; !ok {
			out[m[1]] = m[2]
		}
	}
	return out
}

// contrast is WCAG 2's contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		x := float64(v) / 255
		if x <= 0.03928 {
			c[i] = x / 12.92
		} else {
			c[i] = math.Pow((x+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}
