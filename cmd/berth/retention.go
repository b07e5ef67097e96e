package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// retentionGroup is `berth retention`: image-retention policies, runs,
// restores and pins, over /api/retention (docs/retention.md).
var retentionGroup = group{"retention", "manage image retention: policies, runs, the recycle bin, pins", []command{
	{"list", "list the tenancy's retention policies and their repositories", (*cli).retentionList},
	{"set", "change the named settings of a retention policy (\"global\" or an override), only those", (*cli).retentionSet},
	{"delete", "delete an override policy, or reset the global one to retain everything", (*cli).retentionDelete},
	{"assign", "put a repository under an override policy", (*cli).retentionAssign},
	{"unassign", "return a repository to the global policy", (*cli).retentionUnassign},
	{"run", "run retention now (--dry-run to only report)", (*cli).retentionRun},
	{"runs", "list runs, or show one run's outcome and decisions", (*cli).retentionRuns},
	{"restore", "put back a run's deletions, or one image", (*cli).retentionRestore},
	{"bin", "list a repository's recycle bin", (*cli).retentionBin},
	{"pin", "keep an image from retention (optionally until a time)", (*cli).retentionPin},
	{"unpin", "remove a pin", (*cli).retentionUnpin},
	{"gc", "collect unreferenced blobs now (bootstrap tenancy administrators)", (*cli).retentionGC},
}}

func retentionPath(parts ...string) string { return "/api/retention/" + strings.Join(parts, "/") }

func (s *session) retentionQuery() url.Values { return url.Values{"tenancy": {s.tenancy}} }

// runJSON is a run as the commands print it.
type runJSON struct {
	ID           string    `json:"id"`
	Started      time.Time `json:"started"`
	DryRun       bool      `json:"dryRun"`
	Trigger      string    `json:"trigger"`
	Repositories int       `json:"repositories"`
	Done         bool      `json:"done"`
	Results      []struct {
		Repo     string `json:"repository"`
		Policy   string `json:"policy"`
		Images   int    `json:"images"`
		Deleted  int    `json:"deleted"`
		Reported int    `json:"reported"`
		Stopped  bool   `json:"stopped"`
		Note     string `json:"note"`
		Error    string `json:"error"`
	} `json:"results"`
	Decisions []decisionJSON `json:"decisions"`
}

type decisionJSON struct {
	Repo      string   `json:"repository"`
	Digest    string   `json:"digest"`
	Tags      []string `json:"tags"`
	Policy    string   `json:"policy"`
	Action    string   `json:"action"`
	Criterion string   `json:"criterion"`
	Reason    string   `json:"reason"`
}

func (c *cli) printRun(r runJSON) {
	kind := "run"
	if r.DryRun {
		kind = "dry run"
	}
	fmt.Fprintf(c.stdout, "Retention %s %s (%s, %d repositories", kind, r.ID, r.Trigger, r.Repositories)
	if !r.Done {
		fmt.Fprint(c.stdout, ", still running")
	}
	fmt.Fprintln(c.stdout, ")")
	var rows [][]string
	for _, x := range r.Results {
		note := x.Note
		if x.Error != "" {
			note = x.Error
		}
		rows = append(rows, []string{x.Repo, x.Policy, strconv.Itoa(x.Images), strconv.Itoa(x.Deleted), strconv.Itoa(x.Reported), dash(note)})
	}
	c.table("REPOSITORY\tPOLICY\tIMAGES\tDELETED\tREPORTED\tNOTE", rows)
	if len(r.Decisions) > 0 {
		fmt.Fprintln(c.stdout)
		c.printDecisions(r.Decisions)
	}
}

func (c *cli) printDecisions(ds []decisionJSON) {
	var rows [][]string
	for _, d := range ds {
		rows = append(rows, []string{d.Action, d.Repo + "@" + shortDigest(d.Digest), dash(strings.Join(d.Tags, ",")), d.Criterion, d.Reason})
	}
	c.table("ACTION\tIMAGE\tTAGS\tCRITERION\tWHY", rows)
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func (c *cli) retentionRun(ctx context.Context, args []string) error {
	fs := c.flags("retention run", "Run retention now. A dry run reports exactly what a real run would delete.")
	dry := fs.Bool("dry-run", false, "only report")
	confirm := fs.Bool("confirm", false, "delete even past the circuit breaker's limits")
	repo := fs.String("repository", "", "run over this `repository` only")
	asOf := fs.String("as-of", "", "evaluate as of this RFC 3339 `time` (servers started with BERTH_TEST_CLOCK=1 only)")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	body := map[string]any{"tenancy": s.tenancy, "dryRun": *dry, "confirm": *confirm, "repository": *repo, "asOf": *asOf}
	var raw json.RawMessage
	if err := s.call(ctx, "POST", retentionPath("runs"), nil, body, &raw); err != nil {
		return err
	}
	if s.json {
		return c.printJSON(raw)
	}
	var r runJSON
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	c.printRun(r)
	return nil
}

func (c *cli) retentionRuns(ctx context.Context, args []string) error {
	fs := c.flags("retention runs [<run-id>]", "List recent runs, or show one run's outcome per repository and its decisions.")
	pos, s, err := c.open(fs, args, 0, 1, true)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		var r runJSON
		if done, err := c.get(ctx, s, retentionPath("runs", url.PathEscape(pos[0])), s.retentionQuery(), &r); done || err != nil {
			return err
		}
		var ds struct {
			Decisions []decisionJSON `json:"decisions"`
		}
		if err := s.call(ctx, "GET", retentionPath("runs", url.PathEscape(pos[0]), "decisions"), s.retentionQuery(), nil, &ds); err != nil {
			return err
		}
		r.Decisions = ds.Decisions
		c.printRun(r)
		return nil
	}
	var res struct {
		Runs []runJSON `json:"runs"`
	}
	if done, err := c.get(ctx, s, retentionPath("runs"), s.retentionQuery(), &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, r := range res.Runs {
		rows = append(rows, []string{r.ID, when(r.Started), r.Trigger, strconv.FormatBool(r.DryRun), strconv.Itoa(r.Repositories)})
	}
	c.table("RUN\tSTARTED\tTRIGGER\tDRY RUN\tREPOSITORIES", rows)
	return nil
}

func (c *cli) retentionRestore(ctx context.Context, args []string) error {
	pos, s, err := c.open(c.flags("retention restore <run-id> | <repository>@<digest>",
		"Put back every image a run deleted, or one image (with its children and referrers), from the recycle bin."), args, 1, 1, false)
	if err != nil {
		return err
	}
	var res struct{ Restored int }
	if repo, dg, ok := strings.Cut(pos[0], "@"); ok {
		err = s.call(ctx, "POST", retentionPath("bin", "restore"), nil, map[string]string{"repository": repo, "digest": dg}, &res)
	} else {
		err = s.call(ctx, "POST", retentionPath("runs", url.PathEscape(pos[0]), "restore"), s.retentionQuery(), nil, &res)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Restored %d images\n", res.Restored)
	return nil
}

func (c *cli) retentionBin(ctx context.Context, args []string) error {
	pos, s, err := c.open(c.flags("retention bin <repository>", "List the images of a repository in the recycle bin."), args, 1, 1, true)
	if err != nil {
		return err
	}
	var res struct {
		Images []struct {
			Digest  string    `json:"digest"`
			Tags    []string  `json:"tags"`
			RunID   string    `json:"runId"`
			Expires time.Time `json:"expires"`
			Reason  string    `json:"reason"`
		} `json:"images"`
	}
	if done, err := c.get(ctx, s, retentionPath("bin"), url.Values{"repository": {pos[0]}}, &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, b := range res.Images {
		rows = append(rows, []string{shortDigest(b.Digest), dash(strings.Join(b.Tags, ",")), b.RunID, when(b.Expires), b.Reason})
	}
	c.table("DIGEST\tTAGS\tRUN\tEXPIRES\tWHY", rows)
	return nil
}

func (c *cli) retentionPin(ctx context.Context, args []string) error {
	fs := c.flags("retention pin <repository>@<digest>", "Keep an image (and its children and referrers) from retention.")
	expires := fs.String("expires", "", "unpin at this RFC 3339 `time` (default: never)")
	note := fs.String("note", "", "why it is pinned")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	if !strings.Contains(pos[0], "@") {
		return usagef("berth retention pin takes <repository>@<digest>")
	}
	repo, dg, _ := strings.Cut(pos[0], "@")
	if err := s.call(ctx, "PUT", retentionPath("pins", repoPath(repo)+"@"+dg), nil, map[string]string{"expires": *expires, "note": *note}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Pinned %s\n", pos[0])
	return nil
}

func (c *cli) retentionUnpin(ctx context.Context, args []string) error {
	pos, s, err := c.open(c.flags("retention unpin <repository>@<digest>", "Remove a pin."), args, 1, 1, false)
	if err != nil {
		return err
	}
	repo, dg, ok := strings.Cut(pos[0], "@")
	if !ok {
		return usagef("berth retention unpin takes <repository>@<digest>")
	}
	if err := s.call(ctx, "DELETE", retentionPath("pins", repoPath(repo)+"@"+dg), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Unpinned %s\n", pos[0])
	return nil
}

func (c *cli) retentionGC(ctx context.Context, args []string) error {
	_, s, err := c.open(c.flags("retention gc", "Collect blobs no image (in the registry or its recycle bin) uses and nothing touched for the grace period."), args, 0, 0, true)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := s.call(ctx, "POST", retentionPath("gc"), nil, nil, &raw); err != nil {
		return err
	}
	if s.json {
		return c.printJSON(raw)
	}
	var res struct {
		Links, Blobs, Seen, Repointed int
		Bytes                         int64
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Removed %d links and %d blobs (%d bytes); %d new blobs seen\n", res.Links, res.Blobs, res.Bytes, res.Seen)
	if res.Repointed > 0 {
		fmt.Fprintf(c.stdout, "Repointed %d links at their healed blob's verified copy\n", res.Repointed)
	}
	return nil
}
