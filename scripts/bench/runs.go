package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// workloads are the bench's workloads by name (-workloads).
var workloads = map[string]func(*bench) error{
	"push": func(b *bench) error {
		if err := b.images(); err != nil {
			return err
		}
		return b.add("cold push, 5 × 4 MiB layers", "s", true, b.o.reps, func(s *server, i int) (float64, error) {
			v, err := pushBig(b.ctx, s, b.big[i])
			if err == nil && i == 0 {
				b.bigReady[s] = true
			}
			return v, err
		})
	},
	"pull": func(b *bench) error {
		if err := b.ready(); err != nil {
			return err
		}
		return b.add("pull + verify 5 × 4 MiB", "s", true, b.o.reps, func(s *server, _ int) (float64, error) {
			return pullBig(b.ctx, s, b.big[0])
		})
	},
	"small": func(b *bench) error {
		small, err := smallImages(b.o.reps, 50)
		if err != nil {
			return err
		}
		return b.add("50 small images pushed", "s", true, b.o.reps, func(s *server, i int) (float64, error) {
			return pushSmall(b.ctx, s, small[i])
		})
	},
	"tags": func(b *bench) error {
		lists := map[string][]float64{}
		err := b.add(fmt.Sprintf("%d tags created", b.o.tags), "s", true, b.o.reps, func(s *server, i int) (float64, error) {
			created, listed, err := tagMany(b.ctx, s, fmt.Sprintf("dev/bench/tags-%d", i), b.o.tags)
			lists[s.name] = append(lists[s.name], listed.Seconds()*1e3)
			return created.Seconds(), err
		})
		if err == nil {
			b.addRow(fmt.Sprintf("%d tags listed", b.o.tags), "ms", true, lists)
		}
		return err
	},
	"head": func(b *bench) error { return b.manifests(http.MethodHead, 8) },
	"get":  func(b *bench) error { return b.manifests(http.MethodGet, 32) },
	"inproc": func(b *bench) error {
		if err := b.ready(); err != nil {
			return err
		}
		all := b.servers
		b.servers = slices.DeleteFunc(slices.Clone(all), func(s *server) bool { return s.handler == nil })
		defer func() { b.servers = all }()
		for _, method := range []string{http.MethodHead, http.MethodGet} {
			allocs := map[string]float64{}
			err := b.add(fmt.Sprintf("manifest %s, in-process", method), "req/CPU-s", false, b.o.rounds, func(s *server, _ int) (float64, error) {
				rate, a, err := inProcess(b.ctx, s, method, b.big[0], b.o.duration/time.Duration(b.o.rounds))
				allocs[s.name] = a
				return rate, err
			})
			if err != nil {
				return err
			}
			fmt.Printf("allocations per in-process %s: %v\n", method, allocs)
		}
		return nil
	},
}

// images makes the big images, once.
func (b *bench) images() error {
	if b.big != nil {
		return nil
	}
	var err error
	b.big, err = bigImages(b.o.reps)
	b.bigReady = map[*server]bool{}
	return err
}

// ready makes sure every registry holds big[0].
func (b *bench) ready() error {
	if err := b.images(); err != nil {
		return err
	}
	for _, s := range b.servers {
		if !b.bigReady[s] {
			if err := s.push(b.ctx, b.big[0]); err != nil {
				return fmt.Errorf("push to %s: %w", s.name, err)
			}
			b.bigReady[s] = true
		}
	}
	return nil
}

// manifests measures manifest requests by tag from n clients: req/s, and
// for GET the p99 latency too.
func (b *bench) manifests(method string, n int) error {
	if err := b.ready(); err != nil {
		return err
	}
	p99 := map[string][]float64{}
	err := b.add(fmt.Sprintf("manifest %s, %d clients", method, n), "req/s", false, b.o.rounds, func(s *server, _ int) (float64, error) {
		rate, p, err := hammer(b.ctx, s, method, b.big[0], n, b.o.duration/time.Duration(b.o.rounds))
		p99[s.name] = append(p99[s.name], p.Seconds()*1e3)
		return rate, err
	})
	if err == nil && method == http.MethodGet {
		b.addRow(fmt.Sprintf("manifest %s, %d clients, p99", method, n), "ms", true, p99)
	}
	return err
}

// tagMany pushes a small image to repo, then PUTs its manifest under n
// tags one after another (as a script tagging builds would), then lists
// the tags; it returns how long the tagging and the list took. The list
// must name exactly the n tags and the image's own.
func tagMany(ctx context.Context, s *server, repo string, n int) (created, listed time.Duration, err error) {
	imgs, err := smallImages(1, 1)
	if err != nil {
		return 0, 0, err
	}
	ti := imgs[0][0]
	ti.repo = repo
	if err := s.push(ctx, ti); err != nil {
		return 0, 0, err
	}
	raw, err := ti.img.RawManifest()
	if err != nil {
		return 0, 0, err
	}
	mt, err := ti.img.MediaType()
	if err != nil {
		return 0, 0, err
	}
	authz, err := s.authorization(ctx, pushScope(repo))
	if err != nil {
		return 0, 0, err
	}
	client := &http.Client{Transport: s.transport, Timeout: 30 * time.Second}
	do := func(method, url string, body []byte) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", string(mt))
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err == nil && res.StatusCode/100 != 2 {
			err = fmt.Errorf("%s %s: status %d: %.200s", method, url, res.StatusCode, b)
		}
		return b, err
	}
	base := "http://" + s.host + "/v2/" + repo
	start := time.Now()
	for i := range n {
		if _, err := do(http.MethodPut, fmt.Sprintf("%s/manifests/t%05d", base, i), raw); err != nil {
			return 0, 0, err
		}
	}
	created = time.Since(start)
	// The list's time is the median of several.
	var times []float64
	for range 11 {
		t := time.Now()
		body, err := do(http.MethodGet, base+"/tags/list", nil)
		if err != nil {
			return 0, 0, err
		}
		times = append(times, float64(time.Since(t)))
		var list struct {
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return 0, 0, err
		}
		if len(list.Tags) != n+1 || !slices.Contains(list.Tags, fmt.Sprintf("t%05d", n-1)) {
			return 0, 0, fmt.Errorf("tags/list of %s named %d tags, want %d", repo, len(list.Tags), n+1)
		}
	}
	return created, time.Duration(median(times)), nil
}
