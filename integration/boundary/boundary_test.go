package boundary

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/config"
)

// registry is one registry under test.
type registry struct {
	backend string
	base    string
	admin   string // dev/admin's Basic Authorization value
	client  *http.Client
}

// start starts the registry on backend with authentication and the AWS
// limits on, as `make run` serves it, and pushes dev/app:v1.
func start(t *testing.T, backend string) *registry {
	t.Helper()
	cfg := harness.OnBackend(t, backend, config.Config{
		Auth: true, Limits: true, PresignTTL: 15 * time.Minute, Service: "berth",
		TokenTTL: 15 * time.Minute, Tenancy: "dev", LogLevel: "warn",
	})
	host, l := harness.Start(t, cfg)
	r := &registry{
		backend: backend, base: "http://" + host,
		admin: basic("dev/admin", l.AdminToken),
		client: &http.Client{
			Timeout:       time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	r.seed(t)
	return r
}

func basic(login, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+secret))
}

// seed pushes dev/app:v1 (the valid defaults of the probes name it).
func (r *registry) seed(t *testing.T) {
	t.Helper()
	for _, b := range [][]byte{appConfig, appLayer} {
		res := r.do(t, probe{method: "POST", target: "/v2/dev/app/blobs/uploads/?digest=" + digestOf(b), body: b, auth: asAdmin})
		if res.status != http.StatusCreated {
			t.Fatalf("seeding dev/app on %s: blob push %d %s", r.backend, res.status, res.body)
		}
	}
	res := r.do(t, probe{method: "PUT", target: "/v2/dev/app/manifests/v1", body: appManifest,
		header: http.Header{"Content-Type": {manifestType}}, auth: asAdmin})
	if res.status != http.StatusCreated {
		t.Fatalf("seeding dev/app on %s: manifest push %d %s", r.backend, res.status, res.body)
	}
}

// session starts an upload in dev/app (query "?direct=1" for a direct
// one) and returns its id.
func (r *registry) session(t *testing.T, query string) string {
	t.Helper()
	res := r.do(t, probe{name: "start an upload", method: "POST", target: "/v2/dev/app/blobs/uploads/" + query, auth: asAdmin})
	loc := res.header.Get("Location")
	if res.status != http.StatusAccepted || !strings.Contains(loc, "/blobs/uploads/") {
		t.Fatalf("starting an upload on %s: %d %s", r.backend, res.status, res.body)
	}
	id, _, _ := strings.Cut(loc[strings.LastIndex(loc, "/")+1:], "?")
	return id
}

// who a probe is sent as.
type who int

const (
	asAdmin  who = iota // dev/admin with Basic credentials
	asNobody            // no credentials
	asGiven             // the probe's own Authorization header
)

// probe is one request.
type probe struct {
	// name says what the probe tries ("GET /v2/{name}/tags/list name=5000 bytes").
	name           string
	method, target string // target: the escaped path and query
	header         http.Header
	body           []byte
	auth           who
	// want, when set, is the status and error code the answer must
	// have ("400 NAME_INVALID"; the code may be omitted).
	want string
}

// answer is what a registry answered a probe.
type answer struct {
	status int
	code   string
	header http.Header
	body   []byte
}

func (a answer) String() string {
	s := fmt.Sprint(a.status)
	if a.code != "" {
		s += " " + a.code
	}
	return s
}

func (r *registry) do(t *testing.T, p probe) answer {
	t.Helper()
	if strings.Contains(p.target, freshUpload) {
		p.target = strings.ReplaceAll(p.target, freshUpload, r.session(t, ""))
	}
	if strings.Contains(p.target, freshDirect) {
		p.target = strings.ReplaceAll(p.target, freshDirect, r.session(t, "?direct=1"))
	}
	req, err := http.NewRequest(p.method, r.base+p.target, bytes.NewReader(p.body))
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	for k, vs := range p.header {
		req.Header[k] = vs
	}
	if p.auth == asAdmin {
		req.Header.Set("Authorization", r.admin)
	}
	res, err := r.client.Do(req)
	if err != nil {
		// A broken answer (a header line the client cannot parse) is a
		// finding, not the end of the run.
		return answer{code: "unreadable: " + err.Error()}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, body: b}
	var e struct{ Errors []struct{ Code string } }
	if json.Unmarshal(b, &e) == nil && len(e.Errors) > 0 {
		a.code = e.Errors[0].Code
	}
	return a
}

// leaks are texts of the storage layers and SDKs that must never reach a
// client (table layout, emulator or AWS request ids as an SDK error
// prints them, "RequestID: …", SDK errors). API Gateway's request id,
// which every error body names ("requestId"), is the client's own.
var leaks = regexp.MustCompile(`(?i)dynamodb|operation error|ValidationException|RequestID:|api error|TENANCY#|REPO#|UPLOAD#|bbolt|s3 |NoSuchKey|smithy`)

// challengeParam is one auth-param of a challenge: token=quoted-string.
var challenge = regexp.MustCompile(`^Bearer realm="([^"\\]*)",service="([^"\\]*)"(?:,scope="([^"\\]*)")?$`)

// scopeName is a challenge scope whose repository name the grammar allows.
var scopeName = regexp.MustCompile(`^repository:[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*:[a-z,*]+$|^registry:catalog:\*$`)

// check returns what is wrong with one answer, or "".
func check(p probe, a answer, base string) string {
	var bad []string
	if a.status >= 500 || a.status == 0 {
		bad = append(bad, "a 5xx or an unreadable answer")
	}
	if m := leaks.Find(a.body); m != nil {
		bad = append(bad, fmt.Sprintf("internal text %q in the body", m))
	}
	if c := a.header.Get("WWW-Authenticate"); c != "" {
		m := challenge.FindStringSubmatch(c)
		switch {
		case m == nil:
			bad = append(bad, "a challenge that is not exactly realm, service and scope: "+c)
		case m[1] != base+"/token":
			bad = append(bad, "a challenge with realm "+m[1])
		case m[3] != "" && !scopeName.MatchString(m[3]):
			bad = append(bad, "a challenge whose scope is not a valid one: "+m[3])
		}
	}
	if p.want != "" && !wanted(p.want, a) {
		bad = append(bad, "want "+p.want)
	}
	return strings.Join(bad, "; ")
}

// wanted reports whether a matches want: "400 NAME_INVALID" or "404";
// "4xx" is any 4xx status.
func wanted(want string, a answer) bool {
	status, code, _ := strings.Cut(want, " ")
	if status == "4xx" {
		return a.status >= 400 && a.status < 500 && (code == "" || code == a.code)
	}
	return status == fmt.Sprint(a.status) && (code == "" || code == a.code)
}

// TestBoundaryValuesOnBothBackends sends every probe to the registry on
// both backends, in the same order, and checks each answer and that the
// two agree.
func TestBoundaryValuesOnBothBackends(t *testing.T) {
	regs := make([]*registry, 0, len(harness.Backends))
	for _, b := range harness.Backends {
		regs = append(regs, start(t, b))
	}
	probes := allProbes()
	// BERTH_BOUNDARY_REPORT names a file to write every failure to; the
	// test itself prints the first 100.
	var report []string
	fail := func(format string, args ...any) {
		report = append(report, fmt.Sprintf(format, args...))
		if len(report) <= 100 {
			t.Errorf(format, args...)
		}
	}
	defer func() {
		if path := os.Getenv("BERTH_BOUNDARY_REPORT"); path != "" {
			if err := os.WriteFile(path, []byte(strings.Join(report, "\n")+"\n"), 0o644); err != nil {
				t.Error(err)
			}
		}
	}()
	perBackend := map[string]map[int]int{}
	for _, p := range probes {
		var answers []answer
		for _, r := range regs {
			a := r.do(t, p)
			answers = append(answers, a)
			if perBackend[r.backend] == nil {
				perBackend[r.backend] = map[int]int{}
			}
			perBackend[r.backend][a.status/100*100]++
			if msg := check(p, a, r.base); msg != "" {
				fail("%s on %s: %s: %s (%.120s)", p.name, r.backend, a, msg, a.body)
			}
		}
		if answers[0].String() != answers[1].String() {
			fail("%s: %s on %s but %s on %s", p.name, answers[0], regs[0].backend, answers[1], regs[1].backend)
		}
	}
	t.Logf("%d probes on each of %d backends (%d requests); %d failures", len(probes), len(regs), len(probes)*len(regs), len(report))
	for _, r := range regs {
		t.Logf("%s: status classes %v", r.backend, perBackend[r.backend])
	}
}
