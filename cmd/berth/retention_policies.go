package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// retentionPolicyJSON is a retention policy as the API shows it.
type retentionPolicyJSON struct {
	Name           string    `json:"name"`
	NotPulledDays  int       `json:"notPulledDays"`
	UntaggedDays   int       `json:"untaggedDays"`
	ExemptTags     []string  `json:"exemptTags"`
	MaxDeleteShare float64   `json:"maxDeleteShare"`
	MaxDeleteCount int       `json:"maxDeleteCount"`
	Version        int64     `json:"version"`
	CoolingUntil   time.Time `json:"coolingUntil"`
	Breaker        struct {
		MaxDeleteShare float64 `json:"maxDeleteShare"`
		MaxDeleteCount int     `json:"maxDeleteCount"`
	} `json:"breaker"`
	Repositories []string `json:"repositories"`
}

// policyAnswerJSON is a policy write's answer: the policy, what
// changed, and (a dry run) what a run would then delete.
type policyAnswerJSON struct {
	retentionPolicyJSON
	Changes []struct {
		Summary           string `json:"summary"`
		RemovesProtection bool   `json:"removesProtection"`
	} `json:"changes"`
	DryRun bool `json:"dryRun"`
	Impact *struct {
		AsOf                                                            time.Time
		Repositories, Images, Before, After, More, HeldBack, Unexempted int
		Examples                                                        []struct {
			Repository, Digest, Reason string
			Tags                       []string
		}
	} `json:"impact"`
}

func offOrDays(n int) string {
	switch n {
	case 0:
		return "off"
	case 1:
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

func shareLimit(share float64) string {
	if share >= 1 {
		return "no limit"
	}
	return strconv.FormatFloat(share*100, 'g', -1, 64) + "%"
}

func countLimit(count int) string {
	if count < 0 {
		return "no limit"
	}
	return strconv.Itoa(count)
}

func (c *cli) retentionList(ctx context.Context, args []string) error {
	_, s, err := c.open(c.flags("retention list", "List the retention policies, their circuit breakers and the repositories each override governs."), args, 0, 0, true)
	if err != nil {
		return err
	}
	var res struct {
		Policies []retentionPolicyJSON `json:"policies"`
	}
	if done, err := c.get(ctx, s, retentionPath("policies"), s.retentionQuery(), &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, p := range res.Policies {
		rows = append(rows, []string{p.Name, offOrDays(p.NotPulledDays), offOrDays(p.UntaggedDays), dash(strings.Join(p.ExemptTags, ",")),
			shareLimit(p.Breaker.MaxDeleteShare), countLimit(p.Breaker.MaxDeleteCount), when(p.CoolingUntil), dash(strings.Join(p.Repositories, ","))})
	}
	c.table("POLICY\tNOT PULLED FOR\tUNTAGGED FOR\tEXEMPT TAGS\tMAX SHARE\tMAX COUNT\tCOOLING UNTIL\tREPOSITORIES", rows)
	return nil
}

// printPolicy writes a policy's settings, one a line.
func (c *cli) printPolicy(w io.Writer, p retentionPolicyJSON) {
	repos := "every repository without an override"
	if p.Name != "global" {
		repos = dash(strings.Join(p.Repositories, ", "))
	}
	exempt := "none"
	if len(p.ExemptTags) > 0 {
		exempt = strings.Join(p.ExemptTags, ", ")
	}
	def := func(isDefault bool) string {
		if isDefault {
			return " (default)"
		}
		return ""
	}
	fmt.Fprintf(w, "  not pulled for   %s\n  untagged for     %s\n  exempt tags      %s\n", offOrDays(p.NotPulledDays), offOrDays(p.UntaggedDays), exempt)
	fmt.Fprintf(w, "  max share        %s%s\n  max count        %s%s\n", shareLimit(p.Breaker.MaxDeleteShare), def(p.MaxDeleteShare == 0),
		countLimit(p.Breaker.MaxDeleteCount), def(p.MaxDeleteCount == 0))
	fmt.Fprintf(w, "  cooling until    %s\n  repositories     %s\n", when(p.CoolingUntil), repos)
}

// errNotSaved: the user did not confirm a change that removes a
// protection.
var errNotSaved = errors.New("not saved: the change removes a protection; answer y to save it, or pass --yes")

func (c *cli) retentionSet(ctx context.Context, args []string) error {
	fs := c.flags("retention set <policy>", "Change the settings named, and only those, of a retention policy (\"global\" or\n"+
		"an override, created if missing). An image is deleted when any criterion holds\n"+
		"and it carries no exempt tag; a new or changed policy only reports during its\n"+
		"cooling period. 0 turns a criterion off; --exempt-tags '' clears the exempt tags.\n"+
		"A change that removes a protection (a criterion turned on or shortened, an\n"+
		"exempt pattern removed, a circuit-breaker limit raised) first shows how many\n"+
		"images a run would then delete, from a dry run, and asks (--yes does not). Example:\n"+
		"  berth retention set global --not-pulled-days 90 --exempt-tags 'latest,release-*'")
	notPulled := fs.Int("not-pulled-days", 0, "delete images not pulled for this many `days` (0: off)")
	untagged := fs.Int("untagged-days", 0, "delete images untagged for this many `days` (0: off)")
	exempt := fs.String("exempt-tags", "", "comma-separated tag `patterns` ('*' matches anything) that keep an image; replaces the list ('' clears it)")
	share := fs.Float64("max-share", 0, "circuit breaker: stop a run deleting more than this `fraction` of a repository's images (0: default, 1: off)")
	count := fs.Int("max-count", 0, "circuit breaker: stop a run deleting more than this many `images` of a repository (0: default, -1: off)")
	yes := fs.Bool("yes", false, "save without asking, even when the change removes a protection (for scripts)")
	dry := fs.Bool("dry-run", false, "show what would change and what a run would then delete; save nothing")
	pos, s, err := c.open(fs, args, 1, 1, true)
	if err != nil {
		return err
	}
	patch := map[string]any{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "not-pulled-days":
			patch["notPulledDays"] = *notPulled
		case "untagged-days":
			patch["untaggedDays"] = *untagged
		case "exempt-tags":
			patch["exemptTags"] = splitList(*exempt)
		case "max-share":
			patch["maxDeleteShare"] = *share
		case "max-count":
			patch["maxDeleteCount"] = *count
		}
	})
	if len(patch) == 0 {
		return usagef("berth retention set: nothing to change; name at least one of --not-pulled-days, --untagged-days, --exempt-tags, --max-share, --max-count (see --help)")
	}
	patch["tenancy"] = s.tenancy
	path := retentionPath("policies", url.PathEscape(pos[0]))
	var raw json.RawMessage
	if err := s.call(ctx, "PATCH", path, url.Values{"dryRun": {"true"}}, patch, &raw); err != nil {
		return err
	}
	var preview policyAnswerJSON
	if err := json.Unmarshal(raw, &preview); err != nil {
		return err
	}
	if *dry {
		if s.json {
			return c.printJSON(raw)
		}
		c.printChanges(c.stdout, "Would change", preview)
		c.printImpact(c.stdout, preview)
		return nil
	}
	if len(preview.Changes) == 0 && preview.Version > 0 {
		if s.json {
			return c.printJSON(raw)
		}
		fmt.Fprintf(c.stdout, "Retention policy %s already says that; nothing changed.\n", pos[0])
		c.printPolicy(c.stdout, preview.retentionPolicyJSON)
		return nil
	}
	if removes(preview) {
		c.printChanges(c.stderr, "This change removes a protection", preview)
		c.printImpact(c.stderr, preview)
		if !*yes && !c.confirm("Save the change? [y/N] ") {
			return errNotSaved
		}
	}
	raw = nil
	err = s.callIfMatch(ctx, "PATCH", path, nil, fmt.Sprintf("%q", strconv.FormatInt(preview.Version, 10)), patch, &raw)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusPreconditionFailed {
		return fmt.Errorf("retention policy %s changed while this command ran; nothing was saved: run it again", pos[0])
	} else if err != nil {
		return err
	}
	if s.json {
		return c.printJSON(raw)
	}
	var saved policyAnswerJSON
	if err := json.Unmarshal(raw, &saved); err != nil {
		return err
	}
	c.printChanges(c.stdout, fmt.Sprintf("Saved retention policy %s (version %d)", pos[0], saved.Version), saved)
	fmt.Fprintf(c.stdout, "Policy %s now:\n", pos[0])
	c.printPolicy(c.stdout, saved.retentionPolicyJSON)
	return nil
}

// plural counts things: "1 image", "2 images", "3 repositories".
func plural(n int, thing string) string {
	switch {
	case n == 1:
		return "1 " + thing
	case strings.HasSuffix(thing, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(thing, "y"))
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func removes(a policyAnswerJSON) bool {
	for _, ch := range a.Changes {
		if ch.RemovesProtection {
			return true
		}
	}
	return false
}

func (c *cli) printChanges(w io.Writer, title string, a policyAnswerJSON) {
	fmt.Fprintf(w, "%s:\n", title)
	for _, ch := range a.Changes {
		mark := ""
		if ch.RemovesProtection {
			mark = "  (removes a protection)"
		}
		fmt.Fprintf(w, "  %s%s\n", ch.Summary, mark)
	}
	if len(a.Changes) == 0 {
		fmt.Fprintln(w, "  nothing")
	}
}

// printImpact writes what a dry run says the change would delete.
func (c *cli) printImpact(w io.Writer, a policyAnswerJSON) {
	im := a.Impact
	if im == nil {
		return
	}
	fmt.Fprintf(w, "Dry run as of %s over %s in %s: once the cooling period ends (%s), a run would delete %s (%d under the policy as it stands), %d more than now.\n",
		when(im.AsOf), plural(im.Images, "image"), plural(im.Repositories, "repository"), when(a.CoolingUntil), plural(im.After, "image"), im.Before, im.More)
	if im.Unexempted > 0 {
		fmt.Fprintf(w, "%s carry a tag no longer exempt: kept so far, deleted once a criterion holds for them.\n", plural(im.Unexempted, "image"))
	}
	if im.HeldBack > 0 {
		fmt.Fprintf(w, "The circuit breaker would hold back %s more until a run is confirmed (berth retention run --confirm).\n", plural(im.HeldBack, "image"))
	}
	if len(im.Examples) > 0 {
		fmt.Fprintln(w, "Images it would no longer keep, for example:")
		for _, e := range im.Examples {
			fmt.Fprintf(w, "  %s@%s (%s): %s\n", e.Repository, shortDigest(e.Digest), dash(strings.Join(e.Tags, ",")), e.Reason)
		}
	}
}

// confirm asks a yes/no question on stderr and reads the answer from
// stdin; anything but y or yes (or no answer at all) is no.
func (c *cli) confirm(question string) bool {
	fmt.Fprint(c.stderr, question)
	if c.stdin == nil {
		fmt.Fprintln(c.stderr)
		return false
	}
	line, _ := bufio.NewReader(c.stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	fmt.Fprintln(c.stderr)
	return false
}

func splitList(s string) []string {
	out := []string{}
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func (c *cli) retentionDelete(ctx context.Context, args []string) error {
	pos, s, err := c.open(c.flags("retention delete <policy>", "Delete an override policy without repositories, or reset \"global\" to retain everything."), args, 1, 1, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "DELETE", retentionPath("policies", url.PathEscape(pos[0])), s.retentionQuery(), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Deleted retention policy %s\n", pos[0])
	return nil
}

func (c *cli) retentionAssign(ctx context.Context, args []string) error {
	pos, s, err := c.open(c.flags("retention assign <repository> <policy>", "Put a repository under an override policy (a repository has at most one)."), args, 2, 2, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "PUT", retentionPath("repositories", repoPath(pos[0])), nil, map[string]string{"policy": pos[1]}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s is now under retention policy %s\n", pos[0], pos[1])
	return nil
}

func (c *cli) retentionUnassign(ctx context.Context, args []string) error {
	pos, s, err := c.open(c.flags("retention unassign <repository>", "Return a repository to the global retention policy."), args, 1, 1, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "DELETE", retentionPath("repositories", repoPath(pos[0])), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s is now under the global retention policy\n", pos[0])
	return nil
}
