package main

import (
	"context"
	"fmt"
	"time"

	berthusage "github.com/berth-registry/berth/shared/usage"
)

// usageGroup is `berth usage`: stored bytes and quotas (docs/usage.md).
var usageGroup = group{"usage", "stored bytes per tenancy and repository, and quotas", []command{
	{"show", "show the tenancy's stored bytes, quota and repositories", (*cli).usageShow},
	{"set-quota", "set a tenancy's soft storage quota (bootstrap administrators)", (*cli).usageSetQuota},
	{"remove-quota", "remove a tenancy's quota (bootstrap administrators)", (*cli).usageRemoveQuota},
}}

// usageJSON is a usage answer's stored bytes.
type usageJSON struct {
	Bytes       int64     `json:"bytes"`
	UniqueBytes int64     `json:"uniqueBytes"`
	SharedBytes int64     `json:"sharedBytes"`
	Blobs       int       `json:"blobs"`
	Measured    time.Time `json:"measured"`
}

func (c *cli) usageShow(ctx context.Context, args []string) error {
	fs := c.flags("usage show", "Show the blob bytes the tenancy stores (unique to it, and shared with other\n"+
		"tenancies), its quota, and the bytes of each repository you may inspect, as\n"+
		"the last garbage collection measured them (hourly on AWS).")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	var res struct {
		Usage usageJSON `json:"usage"`
		Quota *struct {
			Bytes int64 `json:"bytes"`
		} `json:"quota"`
		Repositories []struct {
			Name  string    `json:"name"`
			Usage usageJSON `json:"usage"`
		} `json:"repositories"`
	}
	if done, err := c.get(ctx, s, s.path("usage"), nil, &res); done || err != nil {
		return err
	}
	quota := "none"
	if res.Quota != nil {
		quota = berthusage.Bytes(res.Quota.Bytes)
	}
	fmt.Fprintf(c.stdout, "Tenancy:   %s\nStored:    %s (unique %s, shared %s) in %d blobs\nQuota:     %s\nMeasured:  %s\n\n",
		s.tenancy, berthusage.Bytes(res.Usage.Bytes), berthusage.Bytes(res.Usage.UniqueBytes), berthusage.Bytes(res.Usage.SharedBytes),
		res.Usage.Blobs, quota, when(res.Usage.Measured))
	var rows [][]string
	for _, r := range res.Repositories {
		rows = append(rows, []string{r.Name, berthusage.Bytes(r.Usage.Bytes), berthusage.Bytes(r.Usage.UniqueBytes), berthusage.Bytes(r.Usage.SharedBytes)})
	}
	c.table("REPOSITORY\tSTORED\tUNIQUE\tSHARED", rows)
	return nil
}

func (c *cli) usageSetQuota(ctx context.Context, args []string) error {
	fs := c.flags("usage set-quota <bytes>", "Set the tenancy's soft storage quota in bytes (suffixes K, M, G, T: binary\n"+
		"units): a push that would take its stored bytes past it is refused (DENIED).")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	n, err := parseBytes(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	if err := s.call(ctx, "PUT", s.path("quota"), nil, map[string]int64{"bytes": n}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Tenancy %s's quota is %s.\n", s.tenancy, berthusage.Bytes(n))
	return nil
}

func (c *cli) usageRemoveQuota(ctx context.Context, args []string) error {
	fs := c.flags("usage remove-quota", "Remove the tenancy's storage quota.")
	_, s, err := c.open(fs, args, 0, 0, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "DELETE", s.path("quota"), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Tenancy %s has no quota.\n", s.tenancy)
	return nil
}

// parseBytes reads "1048576", "512M", "10G".
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K', 'k':
			mult, s = 1<<10, s[:n-1]
		case 'M', 'm':
			mult, s = 1<<20, s[:n-1]
		case 'G', 'g':
			mult, s = 1<<30, s[:n-1]
		case 'T', 't':
			mult, s = 1<<40, s[:n-1]
		}
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size in bytes such as 1073741824 or 10G", s)
	}
	return n * mult, nil
}
