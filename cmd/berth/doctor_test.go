package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/doctor"
	"github.com/berth-registry/berth/shared/gateway"
	"github.com/berth-registry/berth/shared/inprocess"
)

// doctorTarget serves an in-process registry (auth and AWS limits on)
// behind a front-door emulation; it returns the URL and admin token.
func doctorTarget(t *testing.T, modes string) (string, string) {
	t.Helper()
	cfg := config.Config{Auth: true, Backend: "embedded", Data: t.TempDir(), Limits: true,
		PresignTTL: 15 * time.Minute, Service: "berth", TokenTTL: 15 * time.Minute, Tenancy: "dev"}
	l, err := inprocess.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	if h, err = gateway.FrontDoor(l.Gateway, modes); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		l.Close()
	})
	return srv.URL, l.AdminToken
}

func TestDoctorCommand(t *testing.T) {
	healthy, token := doctorTarget(t, "")
	remapped, token2 := doctorTarget(t, "rest-remap")
	tests := []struct {
		name    string
		args    []string
		stdin   string
		wantErr string
		wantOut []string
	}{
		{name: "a healthy registry passes, flags after the URL",
			args: []string{healthy, "-u", "dev/admin", "--password-stdin"}, stdin: token + "\n",
			wantOut: []string{"ok    push-streamed", "ok    cleanup", "verdict: ok"}},
		{name: "a renamed challenge fails with the front-door fix and exit status 1",
			args: []string{"--json", remapped, "--username", "dev/admin", "--password-stdin"}, stdin: token2,
			wantErr: "1 check(s) failed", wantOut: []string{`"ok": false`, `frontDoor: \"cloudfront\"`}},
		{name: "without credentials only the open checks run",
			args: []string{healthy}, wantOut: []string{"skip  push-monolithic", "verdict: ok"}},
		{name: "-u without --password-stdin is refused",
			args: []string{healthy, "-u", "dev/admin"}, wantErr: "-u needs --password-stdin"},
		{name: "an empty token is refused",
			args: []string{healthy, "-u", "dev/admin", "--password-stdin"}, stdin: "\n", wantErr: "empty auth token"},
		{name: "two URLs are refused",
			args: []string{healthy, healthy}, wantErr: "want one registry URL"},
		{name: "no URL is refused", wantErr: "want one registry URL"},
		{name: "--help prints the usage", args: []string{"--help"}, wantErr: errHelp.Error(), wantOut: []string{"Usage: berth doctor <url>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runDoctor(context.Background(), tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q\nstdout:\n%s\nstderr:\n%s", err, tt.wantErr, out.String(), errOut.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestDoctorCommandJSONIsTheReport(t *testing.T) {
	url, token := doctorTarget(t, "")
	var out, errOut bytes.Buffer
	if err := runDoctor(context.Background(), []string{url, "--json", "-u", "dev/admin", "--password-stdin"},
		strings.NewReader(token), &out, &errOut); err != nil {
		t.Fatal(err, errOut.String())
	}
	var rep struct {
		OK         bool            `json:"ok"`
		Repository string          `json:"repository"`
		Results    []doctor.Result `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	if !rep.OK || !strings.HasPrefix(rep.Repository, "dev/berth-doctor-") || len(rep.Results) != 17 {
		t.Errorf("report: ok %v, repository %q, %d results", rep.OK, rep.Repository, len(rep.Results))
	}
}
