package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"time"

	berthusage "github.com/berth-registry/berth/shared/usage"
)

type repoJSON struct {
	Name          string     `json:"name"`
	Public        bool       `json:"public"`
	ImmutableTags bool       `json:"immutableTags"`
	Created       time.Time  `json:"created"`
	Usage         *usageJSON `json:"usage"`
}

// stored is a repository's stored, unique and shared bytes as columns
// ("-" before the first garbage collection measured them).
func (r repoJSON) stored() []string {
	if r.Usage == nil {
		return []string{"-", "-", "-"}
	}
	return []string{berthusage.Bytes(r.Usage.Bytes), berthusage.Bytes(r.Usage.UniqueBytes), berthusage.Bytes(r.Usage.SharedBytes)}
}

func visibility(public bool) string {
	if public {
		return "public"
	}
	return "private"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (c *cli) reposList(ctx context.Context, args []string) error {
	fs := c.flags("repos list", "List the repositories of a tenancy that you may inspect, with the blob bytes\n"+
		"each stores (unique to it, and shared with other repositories) as the last\n"+
		"garbage collection measured them (docs/usage.md). --prefix and --contains\n"+
		"filter the names after \"<tenancy>/\":\n  berth repos list --prefix team/ --contains api")
	prefix := fs.String("prefix", "", "only names whose part after <tenancy>/ starts with this")
	contains := fs.String("contains", "", "only names holding this after <tenancy>/")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	var all []json.RawMessage
	q := url.Values{"tenancy": {s.tenancy}, "n": {"1000"}}
	if *prefix != "" {
		q.Set("prefix", *prefix)
	}
	if *contains != "" {
		q.Set("contains", *contains)
	}
	for {
		var page struct {
			Repositories []json.RawMessage `json:"repositories"`
			Next         string            `json:"next"`
		}
		if err := s.call(ctx, "GET", "/api/repositories", q, nil, &page); err != nil {
			return err
		}
		all = append(all, page.Repositories...)
		if page.Next == "" {
			break
		}
		q.Set("last", page.Next)
	}
	if s.json {
		b, err := json.Marshal(map[string]any{"tenancy": s.tenancy, "repositories": append([]json.RawMessage{}, all...)})
		if err != nil {
			return err
		}
		return c.printJSON(b)
	}
	var rows [][]string
	for _, raw := range all {
		var r repoJSON
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		rows = append(rows, append([]string{r.Name, visibility(r.Public), yesNo(r.ImmutableTags), when(r.Created)}, r.stored()...))
	}
	c.table("NAME\tVISIBILITY\tIMMUTABLE TAGS\tCREATED\tSTORED\tUNIQUE\tSHARED", rows)
	return nil
}

func (c *cli) reposGet(ctx context.Context, args []string) error {
	fs := c.flags("repos get <name>", "Show a repository: its settings, tags and manifests with their activity: first\n"+
		"pushed, last pushed (a re-push or re-tag), last pulled and pulls (needs read;\n"+
		"docs/retention.md \"Activity\").")
	pos, s, err := c.open(fs, args, 1, 1, true)
	if err != nil {
		return err
	}
	var r struct {
		repoJSON
		Tags []struct {
			Name, Digest string
			Size         int64
			Updated      time.Time
		}
		Manifests []imageJSON
		Truncated bool
	}
	if done, err := c.get(ctx, s, "/api/repositories/"+repoPath(pos[0]), nil, &r); done || err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Name:           %s\nVisibility:     %s\nImmutable tags: %s\nCreated:        %s\n\n",
		r.Name, visibility(r.Public), yesNo(r.ImmutableTags), when(r.Created))
	if len(r.Manifests) == 0 {
		fmt.Fprintln(c.stdout, "No images yet.")
		return nil
	}
	var rows [][]string
	for _, t := range r.Tags {
		rows = append(rows, []string{t.Name, t.Digest, fmt.Sprint(t.Size), when(t.Updated)})
	}
	c.table("TAG\tDIGEST\tSIZE\tUPDATED", rows)
	fmt.Fprintln(c.stdout)
	c.imageTable(r.Manifests)
	if r.Truncated {
		fmt.Fprintln(c.stderr, "(only the first 1000 tags and manifests are shown)")
	}
	return nil
}

func (c *cli) reposCreate(ctx context.Context, args []string) error {
	fs := c.flags("repos create <tenancy>/<name>", "Create a repository, private unless --public (needs manage). Pushing to a new\nname also creates a private one.")
	public := fs.Bool("public", false, "let anyone pull it without logging in")
	immutable := fs.Bool("immutable-tags", false, "refuse pushes that would move an existing tag")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	var r repoJSON
	if err := s.call(ctx, "POST", "/api/repositories", nil, map[string]any{"name": pos[0], "public": *public, "immutableTags": *immutable}, &r); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Created %s repository %s\n", visibility(r.Public), r.Name)
	return nil
}

func (c *cli) reposSet(ctx context.Context, args []string) error {
	fs := c.flags("repos set <name>", "Change a repository's settings (needs manage). Example:\n  berth repos set dev/app --public=true --immutable-tags=true")
	public := fs.Bool("public", false, "true: anyone may pull it; false: private")
	immutable := fs.Bool("immutable-tags", false, "true: refuse pushes that would move an existing tag")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	change := map[string]any{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "public":
			change["public"] = *public
		case "immutable-tags":
			change["immutableTags"] = *immutable
		}
	})
	if len(change) == 0 {
		return usagef("berth repos set: nothing to change; pass --public=true|false and/or --immutable-tags=true|false")
	}
	var r repoJSON
	if err := s.call(ctx, "PATCH", "/api/repositories/"+repoPath(pos[0]), nil, change, &r); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s is %s; immutable tags: %s\n", r.Name, visibility(r.Public), yesNo(r.ImmutableTags))
	return nil
}

func (c *cli) reposDelete(ctx context.Context, args []string) error {
	fs := c.flags("repos delete <name>", "Delete a repository: its tags, its manifests and its blob links (needs\nmanage). Blob storage is reclaimed by garbage collection.")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	var d struct{ Tags, Manifests, BlobLinks int }
	if err := s.call(ctx, "DELETE", "/api/repositories/"+repoPath(pos[0]), nil, nil, &d); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Deleted %s: %d tags, %d manifests, %d blob links\n", pos[0], d.Tags, d.Manifests, d.BlobLinks)
	return nil
}
