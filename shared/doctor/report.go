package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Print writes the report for a terminal: one line per check (ok, FAIL
// with what was seen and expected, or skip), then the verdict and, per
// failure, the fix.
func (r *Report) Print(w io.Writer) error {
	p := &printer{w: w}
	p.printf("berth doctor %s", r.URL)
	if r.Repository != "" {
		p.printf("  (pushes to %s, deleted at the end)", r.Repository)
	}
	p.printf("\n\n")
	for _, res := range r.Results {
		switch {
		case res.Skipped:
			p.printf("skip  %-16s %s\n", res.Name, res.Seen)
		case res.OK:
			p.printf("ok    %-16s %s\n", res.Name, res.Seen)
		default:
			p.printf("FAIL  %-16s seen: %s\n", res.Name, res.Seen)
			p.printf("      %-16s expected: %s\n", "", res.Expected)
		}
	}
	p.printf("\n")
	failed := r.Failed()
	if failed == 0 {
		p.printf("verdict: ok — %s\n", r.okVerdict())
		return p.err
	}
	p.printf("verdict: FAIL — %d of %d checks failed; clients will break until this is fixed:\n", failed, len(r.Results))
	for _, f := range r.fixes() {
		p.printf("  %s:\n    %s\n", strings.Join(f.checks, ", "), f.fix)
	}
	return p.err
}

// okVerdict says what a passing run proves.
func (r *Report) okVerdict() string {
	skipped := 0
	for _, res := range r.Results {
		if res.Skipped {
			skipped++
		}
	}
	if res, ran := r.Result(CheckCleanup); ran && res.OK {
		return "docker login, push and pull work through this URL"
	}
	return fmt.Sprintf("%d checks passed, %d skipped (log in with -u <namespace>/<user> --password-stdin to test a push and pull)",
		len(r.Results)-skipped, skipped)
}

// fixGroup is one fix and the failed checks it cures.
type fixGroup struct {
	fix    string
	checks []string
}

// fixes groups the failures by fix, in the order they were found.
func (r *Report) fixes() []fixGroup {
	var out []fixGroup
	at := map[string]int{}
	for _, res := range r.Results {
		if !res.Failed() {
			continue
		}
		i, seen := at[res.Fix]
		if !seen {
			i = len(out)
			at[res.Fix] = i
			out = append(out, fixGroup{fix: res.Fix})
		}
		out[i].checks = append(out[i].checks, res.Name)
	}
	return out
}

// WriteJSON writes the report as one JSON object, with ok and failed
// counts for scripts.
func (r *Report) WriteJSON(w io.Writer) error {
	out := struct {
		*Report
		OK     bool `json:"ok"`
		Failed int  `json:"failed"`
	}{r, r.Failed() == 0, r.Failed()}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// printer keeps the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
