// Command retention-bench measures retention at scale on the embedded
// store: it loads a tenancy of N images across R repositories (default
// 100,000 across 1,000) into a fresh bbolt file, then times a dry run
// over every repository, confirmed past the circuit breaker (the first, which also writes each image's
// marks, and a second, steady-state one) and reports time and memory.
// The target is under 60 s.
//
//	go run ./scripts/retention-bench [-images 100000] [-repos 1000] [-dir DIR]
//
// It is a benchmark, not a test: nothing fails, it prints numbers.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

func main() {
	images := flag.Int("images", 100_000, "images in the tenancy")
	repos := flag.Int("repos", 1_000, "repositories they are spread across")
	dir := flag.String("dir", "", "directory for the store (default: a temporary one, removed after)")
	flag.Parse()
	if err := run(*images, *repos, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "retention-bench:", err)
		os.Exit(1)
	}
}

func run(images, repos int, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "retention-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	ctx := context.Background()
	meta, err := local.OpenMetadata(filepath.Join(dir, "metadata.db"))
	if err != nil {
		return err
	}
	defer meta.Close()
	objs, err := local.OpenObjects(filepath.Join(dir, "blobs"))
	if err != nil {
		return err
	}
	start := time.Now()
	now := time.Now().UTC()
	if err := seed(ctx, meta, images, repos, now); err != nil {
		return err
	}
	fmt.Printf("retention-bench: loaded %d images across %d repositories in %.1f s\n", images, repos, time.Since(start).Seconds())

	cfg := retention.DefaultConfig()
	cfg.Cooling = 0
	svc := retention.New(retention.Stores{Meta: meta, Ret: meta, Blobs: objs, Tenancies: meta}, cfg, slog.New(slog.DiscardHandler))
	for _, pass := range []string{"first dry run (writes every image's marks)", "second dry run (steady state)"} {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		t := time.Now()
		run, err := svc.StartRun(ctx, retention.RunRequest{Tenancy: "bench", DryRun: true, Confirm: true, Trigger: "bench"})
		if err != nil {
			return err
		}
		elapsed := time.Since(t)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		results, err := meta.ListRunRepos(ctx, "bench", run.ID)
		if err != nil {
			return err
		}
		evaluated, deleted, reported, failed := 0, 0, 0, 0
		for _, r := range results {
			evaluated += r.Images
			deleted += r.Deleted
			reported += r.Reported
			if r.Error != "" {
				failed++
			}
		}
		fmt.Printf("retention-bench: %s: %d images in %d repositories evaluated in %.1f s (%.0f images/s), %d would be deleted, %d reported, %d jobs failed; allocated %d MiB, heap %d MiB, peak RSS %d MiB\n",
			pass, evaluated, len(results), elapsed.Seconds(), float64(evaluated)/elapsed.Seconds(), deleted, reported, failed,
			(after.TotalAlloc-before.TotalAlloc)>>20, after.HeapInuse>>20, peakRSS()>>20)
		if elapsed > time.Minute {
			fmt.Printf("retention-bench: over the 60 s target\n")
		}
	}
	return nil
}

// seed writes the tenancy "bench": per repository, images of three
// kinds in turn — tagged and pulled lately, tagged and never pulled,
// untagged — each referencing a config of its own and two layers shared
// within the repository, pushed over the last 120 days.
func seed(ctx context.Context, meta *local.Metadata, images, repos int, now time.Time) error {
	meta.SetNoSync(true)
	defer meta.SetNoSync(false)
	if err := meta.CreateTenancy(ctx, store.Tenancy{Name: "bench", Created: now}); err != nil {
		return err
	}
	p := store.RetentionPolicy{Tenancy: "bench", Name: store.GlobalPolicy, NotPulledDays: 60, UntaggedDays: 14,
		ExemptTags: []string{"release-*"}, Created: now.Add(-time.Hour), Changed: now.Add(-time.Hour), Version: 1}
	if err := meta.PutRetentionPolicy(ctx, p); err != nil {
		return err
	}
	per := images / repos
	for r := range repos {
		repo := fmt.Sprintf("bench/service-%04d", r)
		if err := meta.EnsureRepository(ctx, repo); err != nil {
			return err
		}
		layers := []digest.Digest{digest.FromString(repo + "/base"), digest.FromString(repo + "/deps")}
		for i := range per {
			body := fmt.Sprintf(`{"schemaVersion":2,"repo":%q,"i":%d}`, repo, i)
			m := store.Manifest{Repo: repo, Digest: digest.FromString(body), MediaType: "application/vnd.oci.image.manifest.v1+json",
				Size: int64(len(body)), Body: []byte(body), Created: now.Add(-time.Duration(i%120) * 24 * time.Hour),
				Refs: append([]digest.Digest{digest.FromString(body + "/config")}, layers...)}
			if err := meta.PutManifest(ctx, m); err != nil {
				return err
			}
			switch i % 3 {
			case 0:
				if _, err := meta.RecordPull(ctx, repo, m.Digest, now.Add(-time.Duration(i%90)*24*time.Hour)); err != nil {
					return err
				}
				fallthrough
			case 1:
				tag := fmt.Sprintf("build-%d", i)
				if i%30 == 0 {
					tag = fmt.Sprintf("release-%d", i)
				}
				if err := meta.PutTag(ctx, store.Tag{Repo: repo, Name: tag, Digest: m.Digest, MediaType: m.MediaType, Size: m.Size, Updated: m.Created}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// peakRSS is the process's peak resident set size in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10 // kilobytes on Linux
}
