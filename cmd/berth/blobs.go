package main

import (
	"context"
	"encoding/json"
	"fmt"
)

// blobsGroup is `berth blobs`: checks of stored blob bytes.
var blobsGroup = group{"blobs", "check stored blobs (bootstrap tenancy administrators)", []command{
	{"verify", "re-hash stored blobs against their digests and quarantine those that differ", (*cli).blobsVerify},
}}

// verifyReport is the admin API's answer to POST /api/blobs/verify
// (shared/scrub Report).
type verifyReport struct {
	Checked    int   `json:"checked"`
	Bytes      int64 `json:"bytes"`
	Mismatches []struct {
		Digest, Key, Problem string
		Size                 int64
		Quarantined          bool
		Unlinked             []string
	} `json:"mismatches"`
	Skipped []string `json:"skipped"`
	Done    bool     `json:"done"`
	Next    string   `json:"next"`
}

func (c *cli) blobsVerify(ctx context.Context, args []string) error {
	fs := c.flags("blobs verify", "Read every stored blob (or --sample N of them, picked at random) and check its bytes against its digest.\n"+
		"A blob whose bytes do not match is reported and quarantined: its record is never reused (the next verified\n"+
		"upload of the digest replaces it), the repositories that link it no longer serve it, and garbage collection\n"+
		"removes its object. Exits 1 when it found any (docs/storage.md, \"Detect and heal\").")
	sample := fs.Int("sample", 0, "check `N` blobs picked at random instead of all")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	if *sample < 0 {
		return usagef("--sample takes a positive number of blobs")
	}
	var total verifyReport
	for after, left := "", *sample; ; {
		body := map[string]any{}
		if *sample > 0 {
			body["sample"] = left
		} else if after != "" {
			body["after"] = after
		}
		var raw json.RawMessage
		if err := s.call(ctx, "POST", "/api/blobs/verify", nil, body, &raw); err != nil {
			return err
		}
		var rep verifyReport
		if err := json.Unmarshal(raw, &rep); err != nil {
			return err
		}
		if s.json {
			if err := c.printJSON(raw); err != nil {
				return err
			}
		}
		for _, m := range rep.Mismatches {
			if !s.json {
				state := "quarantined"
				if !m.Quarantined {
					state = "not quarantined"
				}
				fmt.Fprintf(c.stdout, "MISMATCH %s (%s, %d bytes): %s; %s, unlinked from %d repositories\n", m.Digest, m.Key, m.Size, m.Problem, state, len(m.Unlinked))
			}
		}
		total.Checked += rep.Checked
		total.Bytes += rep.Bytes
		total.Mismatches = append(total.Mismatches, rep.Mismatches...)
		total.Skipped = append(total.Skipped, rep.Skipped...)
		progress := rep.Checked + len(rep.Skipped)
		left -= progress
		after = rep.Next
		if rep.Done || (*sample > 0 && left <= 0) {
			break
		}
		if progress == 0 {
			return fmt.Errorf("the registry checked no blob in a whole request; try again")
		}
	}
	if !s.json {
		for _, d := range total.Skipped {
			fmt.Fprintf(c.stdout, "SKIPPED %s: too large to read within one request\n", d)
		}
		fmt.Fprintf(c.stdout, "Checked %d blobs (%d bytes): %d did not match their digests\n", total.Checked, total.Bytes, len(total.Mismatches))
	}
	if n := len(total.Mismatches); n > 0 {
		return fmt.Errorf("%d blobs did not match their digests (quarantined; see above)", n)
	}
	return nil
}
