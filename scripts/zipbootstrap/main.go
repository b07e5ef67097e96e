// Command zipbootstrap writes a Lambda deployment zip holding the named
// files with the executable bit set (the "zip" tool is not on every
// machine; Lambda's provided.al2023 runtime needs bootstrap executable).
package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: zipbootstrap <out.zip> <file>...")
		os.Exit(2)
	}
	if err := write(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "zipbootstrap:", err)
		os.Exit(1)
	}
}

func write(out string, files []string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	for _, name := range files {
		src, err := os.Open(name)
		if err != nil {
			return err
		}
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o755)
		// A fixed time keeps the zip, and so the CDK asset hash, stable.
		h.Modified = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, src); err != nil {
			return err
		}
		src.Close()
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}
