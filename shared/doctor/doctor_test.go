package doctor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/doctor"
	"github.com/berth-registry/berth/shared/gateway"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/store"
)

// registry is an in-process Berth (embedded backend, auth and AWS limits
// on) behind the local gateway, with a front-door emulation.
type registry struct {
	url   string
	token string
	local *inprocess.Local

	mu       sync.Mutex
	sessions []string // every upload session the registry opened
}

func newRegistry(t *testing.T, modes string, wrap ...func(http.Handler) http.Handler) *registry {
	t.Helper()
	cfg := config.Config{Auth: true, Backend: "embedded", Data: t.TempDir(), Limits: true,
		PresignTTL: 15 * time.Minute, Service: "berth", TokenTTL: 15 * time.Minute, Tenancy: "dev"}
	l, err := inprocess.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	reg := &registry{token: l.AdminToken, local: l}
	h, err := gateway.FrontDoor(l.Gateway, modes)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrap {
		h = w(h)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&sessionRecorder{ResponseWriter: w, reg: reg, r: r}, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	reg.url = srv.URL
	return reg
}

// sessionRecorder notes the Location of every upload session opened.
type sessionRecorder struct {
	http.ResponseWriter
	reg *registry
	r   *http.Request
}

func (w *sessionRecorder) WriteHeader(status int) {
	if w.r.Method == http.MethodPost && status == http.StatusAccepted && strings.Contains(w.r.URL.Path, "/blobs/uploads") {
		w.reg.mu.Lock()
		w.reg.sessions = append(w.reg.sessions, w.Header().Get("Location"))
		w.reg.mu.Unlock()
	}
	w.ResponseWriter.WriteHeader(status)
}

func (reg *registry) doctor(t *testing.T) *doctor.Report {
	t.Helper()
	rep, err := doctor.Run(context.Background(), doctor.Options{URL: reg.url, Username: "dev/admin", Password: reg.token})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// get is an admin's GET on the registry; it returns status and body.
func (reg *registry) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, reg.url+path, nil)
	req.SetBasicAuth("dev/admin", reg.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// failures maps each failed check to its fix.
func failures(rep *doctor.Report) map[string]string {
	out := map[string]string{}
	for _, r := range rep.Results {
		if r.Failed() {
			out[r.Name] = r.Fix
		}
	}
	return out
}

func TestDoctorPassesAgainstTheLocalGateway(t *testing.T) {
	reg := newRegistry(t, "")
	rep := reg.doctor(t)
	if f := failures(rep); len(f) != 0 {
		t.Fatalf("failures against a healthy registry: %v\n%s", f, printed(t, rep))
	}
	for _, name := range []string{doctor.CheckChallenge, doctor.CheckAPIVersion, doctor.CheckClock, doctor.CheckToken,
		doctor.CheckBasic, doctor.CheckPushMonolithic, doctor.CheckPushChunked, doctor.CheckPushStreamed,
		doctor.CheckChunkLimit, doctor.CheckManifestPut, doctor.CheckManifestHead, doctor.CheckBlobHead,
		doctor.CheckManifestGet, doctor.CheckBlobGet, doctor.CheckTags, doctor.CheckCleanup} {
		if r, ran := rep.Result(name); !ran || !r.OK {
			t.Errorf("%s: ran %v, result %+v; want ok", name, ran, r)
		}
	}
	if r, _ := rep.Result(doctor.CheckTLS); !r.Skipped {
		t.Errorf("tls on plain http: %+v, want skipped", r)
	}
	if r, _ := rep.Result(doctor.CheckChunkLimit); !strings.Contains(r.Seen, "4194304") || !strings.Contains(r.Seen, "413 UNSUPPORTED") {
		t.Errorf("chunk-limit saw %q, want the advertised 4 MiB and the gateway's 413 UNSUPPORTED", r.Seen)
	}
	if r, _ := rep.Result(doctor.CheckBlobGet); !strings.Contains(r.Seen, "307") {
		t.Errorf("blob-get saw %q, want a 307 to storage", r.Seen)
	}
	if !strings.HasPrefix(rep.Repository, "dev/berth-doctor-") {
		t.Errorf("repository %q, want one generated under dev/", rep.Repository)
	}
	if out := printed(t, rep); !strings.Contains(out, "verdict: ok — docker login, push and pull work") {
		t.Errorf("verdict missing from:\n%s", out)
	}
}

func TestDoctorReportsEachFrontDoorFailureWithItsFix(t *testing.T) {
	tests := []struct {
		modes string
		want  map[string]string // failed check → fix
	}{
		{"rest-remap", map[string]string{doctor.CheckChallenge: doctor.FixFrontDoor}},
		{"head-no-length", map[string]string{doctor.CheckManifestHead: doctor.FixHeadLength, doctor.CheckBlobHead: doctor.FixHeadLength}},
		{"no-chunked", map[string]string{doctor.CheckPushStreamed: doctor.FixChunked}},
		{"rest-remap,cloudfront-fix", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.modes, func(t *testing.T) {
			rep := newRegistry(t, tt.modes).doctor(t)
			got := failures(rep)
			if len(got) != len(tt.want) {
				t.Errorf("failed checks %v, want %v\n%s", keys(got), keys(tt.want), printed(t, rep))
			}
			for name, fix := range tt.want {
				if got[name] != fix {
					t.Errorf("%s: fix %q, want %q", name, got[name], fix)
				}
			}
			if r, _ := rep.Result(doctor.CheckCleanup); !r.OK {
				t.Errorf("cleanup: %+v", r)
			}
			out := printed(t, rep)
			for _, fix := range tt.want {
				if !strings.Contains(out, "verdict: FAIL") || !strings.Contains(out, fix) {
					t.Errorf("printed report lacks the verdict or the fix %q:\n%s", fix, out)
				}
			}
		})
	}
}

func TestDoctorLeavesNothingBehind(t *testing.T) {
	refuseManifests := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				http.Error(w, `{"message":"Internal Server Error"}`, http.StatusInternalServerError)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	tests := []struct {
		name  string
		modes string
		wrap  []func(http.Handler) http.Handler
	}{
		{name: "after a passing run"},
		{name: "after a failed streamed push", modes: "no-chunked"},
		{name: "after a failed manifest push", wrap: []func(http.Handler) http.Handler{refuseManifests}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newRegistry(t, tt.modes, tt.wrap...)
			ctx := context.Background()
			if err := reg.local.Stores.Meta.EnsureRepository(ctx, "dev/keep"); err != nil {
				t.Fatal(err)
			}
			_, before := reg.get(t, "/v2/_catalog")
			rep := reg.doctor(t)
			if r, _ := rep.Result(doctor.CheckCleanup); !r.OK {
				t.Fatalf("cleanup: %+v", r)
			}
			if _, after := reg.get(t, "/v2/_catalog"); !bytes.Equal(before, after) {
				t.Errorf("catalog %s after the run, %s before", after, before)
			}
			repo, meta := rep.Repository, reg.local.Stores.Meta
			if _, err := meta.GetRepository(ctx, repo); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("repository %s: %v, want it gone", repo, err)
			}
			tags, _ := meta.ListTags(ctx, repo, "", 10)
			mans, _ := meta.ListManifests(ctx, repo, "", 10)
			links, _ := meta.ListLinks(ctx, repo, "", 10)
			if len(tags)+len(mans)+len(links) != 0 {
				t.Errorf("left in %s: %d tags, %d manifests, %d blob links", repo, len(tags), len(mans), len(links))
			}
			if st, _ := reg.get(t, "/v2/"+repo+"/tags/list"); st != http.StatusNotFound {
				t.Errorf("tags/list of %s: %d, want 404", repo, st)
			}
			reg.mu.Lock()
			defer reg.mu.Unlock()
			if len(reg.sessions) < 3 {
				t.Fatalf("only %d upload sessions were opened", len(reg.sessions))
			}
			for _, s := range reg.sessions {
				if st, b := reg.get(t, s); st != http.StatusNotFound {
					t.Errorf("upload session %s: %d %s, want it gone", s, st, b)
				}
			}
		})
	}
}

func TestDoctorWithoutCredentialsRunsOnlyTheOpenChecks(t *testing.T) {
	reg := newRegistry(t, "")
	rep, err := doctor.Run(context.Background(), doctor.Options{URL: reg.url})
	if err != nil {
		t.Fatal(err)
	}
	if f := failures(rep); len(f) != 0 {
		t.Fatalf("failures: %v", f)
	}
	for _, r := range rep.Results {
		wantSkip := !slices.Contains([]string{doctor.CheckChallenge, doctor.CheckAPIVersion, doctor.CheckClock}, r.Name)
		if r.Skipped != wantSkip {
			t.Errorf("%s: skipped %v, want %v (%s)", r.Name, r.Skipped, wantSkip, r.Seen)
		}
	}
	if out := printed(t, rep); !strings.Contains(out, "log in with -u") {
		t.Errorf("verdict does not say how to test a push:\n%s", out)
	}
}

func TestDoctorReportsRefusedCredentials(t *testing.T) {
	reg := newRegistry(t, "")
	rep, err := doctor.Run(context.Background(), doctor.Options{URL: reg.url, Username: "dev/admin", Password: "bt_wrong_token"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{doctor.CheckToken: doctor.FixCredentials, doctor.CheckBasic: doctor.FixCredentials}
	if got := failures(rep); len(got) != 2 || got[doctor.CheckToken] != want[doctor.CheckToken] || got[doctor.CheckBasic] != want[doctor.CheckBasic] {
		t.Errorf("failures %v, want %v", got, want)
	}
	if r, _ := rep.Result(doctor.CheckPushMonolithic); !r.Skipped {
		t.Errorf("push ran without working credentials: %+v", r)
	}
}

func TestDoctorJSONReport(t *testing.T) {
	rep := newRegistry(t, "rest-remap").doctor(t)
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		URL     string          `json:"url"`
		OK      bool            `json:"ok"`
		Failed  int             `json:"failed"`
		Results []doctor.Result `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, b.String())
	}
	if got.OK || got.Failed != 1 || got.Results[0].Name != doctor.CheckChallenge || got.Results[0].Fix != doctor.FixFrontDoor {
		t.Errorf("JSON report: ok %v failed %d first %+v", got.OK, got.Failed, got.Results[0])
	}
}

func printed(t *testing.T, rep *doctor.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := rep.Print(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestDoctorCleansUpWhenInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Ctrl-C arrives while the manifest is being pushed.
	interrupt := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				cancel()
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := newRegistry(t, "", interrupt)
	rep, err := doctor.Run(ctx, doctor.Options{URL: reg.url, Username: "dev/admin", Password: reg.token})
	if err != nil {
		t.Fatal(err)
	}
	if f := failures(rep); len(f) != 0 {
		t.Errorf("an interrupted run reports failures %v; want the unfinished checks skipped\n%s", f, printed(t, rep))
	}
	if r, _ := rep.Result(doctor.CheckTags); !r.Skipped {
		t.Errorf("tags-list after the interrupt: %+v, want skipped", r)
	}
	if r, _ := rep.Result(doctor.CheckCleanup); !r.OK {
		t.Fatalf("cleanup after the interrupt: %+v", r)
	}
	if _, err := reg.local.Stores.Meta.GetRepository(context.Background(), rep.Repository); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("repository %s after an interrupted run: %v, want it gone", rep.Repository, err)
	}
}
