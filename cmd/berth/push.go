package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-registry/berth/shared/push"
)

// push sends an image to a Berth registry with direct uploads
// (shared/push; docs/large-layers.md).
func (c *cli) push(ctx context.Context, args []string) error {
	fs := c.flags("push <source> <[registry/]repository[:tag]>",
		"Push an image of any size: layers go straight to storage in parallel parts\n"+
			"(direct uploads), and an interrupted push resumes where it stopped when run again.\n"+
			"<source> is a `docker save` tar, an OCI layout directory (oci:<dir>[:<ref>]), or an\n"+
			"image in the local docker engine (docker-daemon:<image>, or just <image>).\n"+
			"The registry and credentials are those of berth login unless the target names a\n"+
			"host or -u is given. Examples:\n\n"+
			"  berth push app.tar dev/app:1\n"+
			"  berth push myimage:latest 127.0.0.1:5000/dev/myimage:latest")
	rf := registryFlags(fs)
	compression := fs.String("compression", "gzip", "how uncompressed layers (docker save) are sent: `gzip` or none")
	stateDir := fs.String("state-dir", "", "where progress is kept for resuming (default ~/.cache/berth/push)")
	progress := fs.String("progress", "auto", "progress output: auto, tty or plain")
	pos, err := c.parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	host, refText := splitHost(pos[1])
	ref, err := push.ParseReference(refText)
	if err != nil {
		return usagef("berth push: target %q: %v", pos[1], err)
	}
	client, err := c.registryClient(rf, host)
	if err != nil {
		return err
	}
	dir := *stateDir
	if dir == "" {
		if dir, err = c.cacheDir("push"); err != nil {
			return err
		}
	}
	state := &push.StateDir{Dir: dir}
	img, err := push.Open(ctx, pos[0], push.SourceOptions{Compression: *compression, State: state})
	if err != nil {
		return err
	}
	defer img.Close()
	tty := *progress == "tty" || (*progress == "auto" && isTerminal(c.stdout))
	bars := push.NewBars(c.stdout, tty)
	fmt.Fprintf(c.stdout, "The push refers to %s/%s\n", client.Base.Host, ref.Repo)
	up := &push.Uploader{Client: client, PartSize: int64(*rf.partMiB) << 20, Parallel: *rf.parallel, State: state}
	bars.Start()
	d, err := push.Push(ctx, up, img, ref, bars)
	bars.Stop()
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted; run the same command again to resume (progress is kept in %s)", dir)
	}
	if err != nil {
		return err
	}
	img.Forget()
	tag := ref.Tag
	if tag == "" {
		tag = ref.Digest.String()
	}
	fmt.Fprintf(c.stdout, "%s: digest: %s\n", tag, d)
	return nil
}

// regFlags are the flags push and proxy share.
type regFlags struct {
	registry, user *string
	stdin          *bool
	parallel       *int
	partMiB        *int
}

func registryFlags(fs *flag.FlagSet) regFlags {
	var rf regFlags
	rf.registry = fs.String("registry", "", "registry `URL` (default: the one berth login saved)")
	rf.user = new(string)
	fs.StringVar(rf.user, "u", "", "log in as `<tenancy>/<user>` instead of the saved login")
	fs.StringVar(rf.user, "username", "", "same as -u")
	rf.stdin = fs.Bool("password-stdin", false, "read the auth token for -u from stdin")
	rf.parallel = new(int)
	fs.IntVar(rf.parallel, "j", 4, "parts in flight at once")
	fs.IntVar(rf.parallel, "parallel", 4, "same as -j")
	rf.partMiB = fs.Int("part-size", push.DefaultPartSize>>20, "part size in `MiB` (at least 5)")
	return rf
}

// registryClient makes the client for host (or --registry, or the saved
// login's registry) with -u's credentials or the saved ones.
func (c *cli) registryClient(rf regFlags, host string) (*push.Client, error) {
	if *rf.partMiB < 5 || *rf.parallel < 1 {
		return nil, usagef("--part-size must be at least 5 (MiB) and -j at least 1")
	}
	saved, serr := c.loadSettings()
	base := *rf.registry
	if host != "" {
		base = host
	}
	if base == "" {
		if serr != nil {
			return nil, fmt.Errorf("no registry given: %w", serr)
		}
		base = saved.URL
	}
	base, err := registryURL(base)
	if err != nil {
		return nil, err
	}
	var user, token string
	switch {
	case *rf.user != "":
		if !*rf.stdin {
			return nil, usagef("with -u, pass the auth token on stdin: echo \"$TOKEN\" | berth ... -u %s --password-stdin", *rf.user)
		}
		b, err := io.ReadAll(io.LimitReader(c.stdin, 4096))
		if err != nil {
			return nil, err
		}
		user, token = *rf.user, strings.TrimSpace(string(b))
	case serr == nil && sameRegistry(saved.URL, base):
		user, token = saved.Username, saved.Token
	}
	return push.NewClient(base, user, token)
}

// sameRegistry compares registry URLs by scheme and host.
func sameRegistry(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
}

// splitHost splits "host[:port]/repo..." into host and the rest, when
// the first component names a host (it has a dot or a port, or is
// localhost), as docker reads image references.
func splitHost(ref string) (string, string) {
	first, rest, ok := strings.Cut(ref, "/")
	if !ok {
		return "", ref
	}
	if strings.ContainsAny(first, ".:") || first == "localhost" {
		return first, rest
	}
	return "", ref
}

// cacheDir is $XDG_CACHE_HOME/berth/<kind>, else ~/.cache/berth/<kind>.
func (c *cli) cacheDir(kind string) (string, error) {
	if d := c.getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "berth", kind), nil
	}
	home := c.getenv("HOME")
	if home == "" {
		return "", errors.New("cannot find a cache directory: set HOME or pass --state-dir")
	}
	return filepath.Join(home, ".cache", "berth", kind), nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// loopback reports whether a listen address is on the loopback
// interface.
func loopback(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
