// Command fakes3 serves gofakes3, an in-memory S3 emulator, on a
// 127.0.0.1 port for scripts/run-aws-local.sh (the tests run it
// in-process instead). It prints "fakes3 on http://HOST:PORT" once it
// listens and serves until interrupted; everything is lost on exit.
//
//	go run ./integration/aws/fakes3 [-addr 127.0.0.1:0]
//
// What it does not verify: see shared/store/s3store/s3fake.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/berth-registry/berth/shared/store/s3store/s3fake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0: a free one)")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "fakes3:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: s3fake.Handler(), ReadHeaderTimeout: 30 * time.Second}
	fmt.Printf("fakes3 on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
