package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/proxy"
	"github.com/berth-registry/berth/shared/push"
)

// proxy serves a local registry endpoint that forwards to Berth and
// turns docker's uploads into direct uploads (shared/proxy).
func (c *cli) proxy(ctx context.Context, args []string) error {
	fs := c.flags("proxy",
		"Serve a registry on this machine that forwards to a Berth registry with your\n"+
			"credentials, so that an unchanged docker push sends layers of any size: each\n"+
			"layer goes straight to storage in parallel parts. Pulls through it work too.\n"+
			"It listens on the loopback interface only and asks docker for no credentials.\n"+
			"Example:\n\n"+
			"  berth proxy &\n"+
			"  docker push 127.0.0.1:5001/dev/app:1")
	rf := registryFlags(fs)
	listen := fs.String("listen", "127.0.0.1:5001", "`address` to listen on (loopback only)")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if !loopback(*listen) {
		return usagef("berth proxy: --listen %s is not a loopback address; the proxy pushes with your credentials for anyone who reaches it", *listen)
	}
	client, err := c.registryClient(rf, "")
	if err != nil {
		return err
	}
	client.UserAgent = "berth-proxy"
	up := &push.Uploader{Client: client, PartSize: int64(*rf.partMiB) << 20, Parallel: *rf.parallel}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv := &http.Server{Handler: proxy.New(client, up, log), ReadHeaderTimeout: 30 * time.Second}
	who := client.Username
	if who == "" {
		who = "anonymous"
	}
	host := ln.Addr().String()
	fmt.Fprintf(c.stdout, "Berth proxy on http://%s → %s (as %s)\n", host, client.Base, who)
	ns := "<tenancy>"
	if t, _, ok := strings.Cut(client.Username, "/"); ok {
		ns = t
	}
	fmt.Fprintf(c.stdout, "Push with:  docker push %s/%s/<repository>:<tag>\n", host, ns)
	return serveUntil(ctx, srv, ln)
}
