package inprocess_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/app/authfn"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
)

// TestLocalAWSBackendKeepsItsSigningKeyInData: the README's aws-backend
// command (BERTH_BACKEND=aws, BERTH_TABLE, BERTH_BUCKET, BERTH_INIT=1 and
// the SDK's endpoint, no signing key) starts, issues registry tokens, and
// after a restart on the same BERTH_DATA still accepts the tokens it
// issued before: the key is kept there, as the embedded backend keeps
// its own. A Lambda function on the aws backend still refuses to start
// without a key, since functions share no directory.
func TestLocalAWSBackendKeepsItsSigningKeyInData(t *testing.T) {
	aws := harness.OnAWS(t, config.Config{})
	data := t.TempDir()
	for k, v := range map[string]string{
		"BERTH_BACKEND": "aws", "BERTH_TABLE": aws.Table, "BERTH_BUCKET": aws.Bucket, "BERTH_INIT": "1",
		"BERTH_DATA": data, "BERTH_SIGNING_KEY": "", "BERTH_SIGNING_KEY_ID": "", "BERTH_ADMIN_TOKEN": "",
		"BERTH_AUTH": "", "BERTH_LIMITS": "", "BERTH_TENANCY": "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	start := func() (*inprocess.Local, *httptest.Server) {
		t.Helper()
		l, err := inprocess.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("berth serve with the README's aws-backend environment: %v", err)
		}
		return l, httptest.NewServer(l.Gateway)
	}
	l, srv := start()
	admin := "Basic " + base64.StdEncoding.EncodeToString([]byte("dev/admin:"+l.AdminToken))
	res := get(t, srv.URL+"/token?service=berth&scope=repository:dev/app:pull", admin)
	var tok struct{ Token string }
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&tok) != nil || tok.Token == "" {
		t.Fatalf("GET /token: %d", res.StatusCode)
	}
	res.Body.Close()
	if _, err := os.Stat(filepath.Join(data, "token-signing-key.pem")); err != nil {
		t.Errorf("no token-signing key in BERTH_DATA: %v", err)
	}
	srv.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l, srv = start()
	defer func() { srv.Close(); _ = l.Close() }()
	if res := get(t, srv.URL+"/v2/", "Bearer "+tok.Token); res.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ after a restart with a token issued before it: %d, want 200", res.StatusCode)
	}

	if _, err := authfn.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "BERTH_SIGNING_KEY_ID") {
		t.Errorf("the token function in Lambda on the aws backend without a key: %v, want an error naming BERTH_SIGNING_KEY_ID", err)
	}
	if _, err := authfn.Authorizer(context.Background()); err == nil || !strings.Contains(err.Error(), "BERTH_SIGNING_KEY_ID") {
		t.Errorf("the authorizer in Lambda on the aws backend without a key: %v, want an error naming BERTH_SIGNING_KEY_ID", err)
	}
}

func get(t *testing.T, url, authorization string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}
