package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	berthusage "github.com/berth-registry/berth/shared/usage"
)

var imagesGroup = group{"images", "show a repository's images (docs/auth.md \"Images and repositories for the console\")", []command{
	{"list", "list a repository's images with size, pusher and pulls", (*cli).imagesList},
	{"get", "show an image: platforms, config, layers and the step that made each", (*cli).imagesGet},
}}

// imageJSON is the API's image summary.
type imageJSON struct {
	Digest, MediaType, ArtifactType     string
	Size, ImageSize                     int64
	PushedBy                            string
	FirstPushed, LastPushed, LastPulled time.Time
	Pulls                               int64
	Subject                             string
	Tags                                []string
}

func (im imageJSON) kind() string {
	if im.ArtifactType != "" {
		return im.ArtifactType
	}
	return im.MediaType
}

// imageTable prints image summaries, one a row.
func (c *cli) imageTable(ims []imageJSON) {
	var rows [][]string
	for _, m := range ims {
		rows = append(rows, []string{m.Digest, m.kind(), berthusage.Bytes(m.ImageSize), dash(m.PushedBy), when(m.FirstPushed), when(m.LastPushed),
			when(m.LastPulled), fmt.Sprint(m.Pulls), dash(strings.Join(m.Tags, ","))})
	}
	c.table("MANIFEST\tTYPE\tIMAGE SIZE\tPUSHED BY\tFIRST PUSHED\tLAST PUSHED\tLAST PULLED\tPULLS\tTAGS", rows)
}

func (c *cli) imagesList(ctx context.Context, args []string) error {
	fs := c.flags("images list <repository>", "List every image of a repository (needs read): its size (config + layers; an\n"+
		"index, its children's), who pushed it last, when, its last pull and pulls.")
	pos, s, err := c.open(fs, args, 1, 1, true)
	if err != nil {
		return err
	}
	var all []json.RawMessage
	q := url.Values{"repository": {pos[0]}, "n": {"1000"}}
	for {
		var page struct {
			Images []json.RawMessage `json:"images"`
			Next   string            `json:"next"`
		}
		if err := s.call(ctx, "GET", "/api/images", q, nil, &page); err != nil {
			return err
		}
		all = append(all, page.Images...)
		if page.Next == "" {
			break
		}
		q.Set("last", page.Next)
	}
	if s.json {
		b, err := json.Marshal(map[string]any{"repository": pos[0], "images": append([]json.RawMessage{}, all...)})
		if err != nil {
			return err
		}
		return c.printJSON(b)
	}
	ims := make([]imageJSON, len(all))
	for i, raw := range all {
		if err := json.Unmarshal(raw, &ims[i]); err != nil {
			return err
		}
	}
	if len(ims) == 0 {
		fmt.Fprintln(c.stdout, "No images yet.")
		return nil
	}
	c.imageTable(ims)
	return nil
}

func (c *cli) imagesGet(ctx context.Context, args []string) error {
	fs := c.flags("images get <repository>@<digest>", "Show an image (needs read): its size, pusher and pulls, the platforms of an\n"+
		"index, and an image's config (labels) and layers with the build step that made\neach, from the config's history.")
	pos, s, err := c.open(fs, args, 1, 1, true)
	if err != nil {
		return err
	}
	repo, d, ok := strings.Cut(pos[0], "@")
	if !ok || repo == "" || d == "" {
		return usagef("berth images get: name the image as <repository>@<digest>")
	}
	var im struct {
		imageJSON
		Platforms []struct {
			Digest, Platform string
			ImageSize        int64
		}
		Config *struct {
			Digest                   string
			Read                     bool
			Unread                   string
			Created                  time.Time
			OS, Architecture, Author string
			Labels                   map[string]string
		}
		Layers []struct {
			Digest    string
			Size      int64
			CreatedBy string
		}
		Referrers []imageJSON
	}
	if done, err := c.get(ctx, s, "/api/images/"+repoPath(repo)+"@"+url.PathEscape(d), nil, &im); done || err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Image:        %s@%s\nType:         %s\nImage size:   %s\nPushed by:    %s\nFirst pushed: %s\nLast pushed:  %s\nLast pulled:  %s\nPulls:        %d\nTags:         %s\n",
		repo, im.Digest, im.kind(), berthusage.Bytes(im.ImageSize), dash(im.PushedBy), when(im.FirstPushed), when(im.LastPushed),
		when(im.LastPulled), im.Pulls, dash(strings.Join(im.Tags, ", ")))
	if len(im.Platforms) > 0 {
		fmt.Fprintln(c.stdout)
		var rows [][]string
		for _, p := range im.Platforms {
			rows = append(rows, []string{dash(p.Platform), p.Digest, berthusage.Bytes(p.ImageSize)})
		}
		c.table("PLATFORM\tDIGEST\tIMAGE SIZE", rows)
	}
	if cfg := im.Config; cfg != nil {
		fmt.Fprintf(c.stdout, "\nConfig:       %s\n", cfg.Digest)
		if !cfg.Read {
			fmt.Fprintf(c.stdout, "              (not read: %s)\n", cfg.Unread)
		} else {
			fmt.Fprintf(c.stdout, "Platform:     %s/%s\nCreated:      %s\n", cfg.OS, cfg.Architecture, when(cfg.Created))
			keys := make([]string, 0, len(cfg.Labels))
			for k := range cfg.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(c.stdout, "Label:        %s=%s\n", k, cfg.Labels[k])
			}
		}
	}
	if len(im.Layers) > 0 {
		fmt.Fprintln(c.stdout)
		var rows [][]string
		for _, l := range im.Layers {
			rows = append(rows, []string{l.Digest, berthusage.Bytes(l.Size), dash(l.CreatedBy)})
		}
		c.table("LAYER\tSIZE\tCREATED BY", rows)
	}
	if len(im.Referrers) > 0 {
		fmt.Fprintln(c.stdout)
		var rows [][]string
		for _, r := range im.Referrers {
			rows = append(rows, []string{r.Digest, r.kind(), when(r.LastPushed)})
		}
		c.table("REFERRER\tTYPE\tPUSHED", rows)
	}
	return nil
}
