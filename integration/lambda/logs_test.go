package lambda

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/integration/harness"
)

// TestFunctionsLogEachRequestOnceWithTheClientsRequestID: through Lambda
// mode, a request is logged by the function that served it, in one JSON
// line from its Lambda adapter, and by the authorizer, both under the
// request id the client got in apigw-requestid — which the error body
// names too; the local gateway adds no line of its own.
func TestFunctionsLogEachRequestOnceWithTheClientsRequestID(t *testing.T) {
	host, token := harness.StartLambda(t)
	logs := harness.LambdaLogs()
	mark := logs.Len()
	req, err := http.NewRequest("GET", "http://"+host+"/v2/dev/nothing/manifests/v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("dev/admin:"+token)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	id := res.Header.Get("apigw-requestid")
	var e struct{ RequestID string }
	if res.StatusCode != http.StatusNotFound || id == "" || json.Unmarshal(body, &e) != nil || e.RequestID != id {
		t.Fatalf("%d %s (apigw-requestid %q): want 404 naming the request id", res.StatusCode, body, id)
	}
	var lines []map[string]any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		lines = lines[:0]
		for _, l := range strings.Split(logs.Since(mark, 1<<20), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["request_id"] == id {
				lines = append(lines, m)
			}
		}
		if len(lines) >= 2 {
			break // the emulator passes the functions' lines on as they come
		}
	}
	byMsg := map[string]map[string]any{}
	for _, l := range lines {
		if byMsg[l["msg"].(string)] != nil {
			t.Errorf("two %q lines for one request: %v", l["msg"], lines)
		}
		byMsg[l["msg"].(string)] = l
	}
	r, a := byMsg["request"], byMsg["authorize"]
	if r == nil || r["function"] != "manifests" || r["route"] != "GET /v2/{n1}/{n2}/manifests/{ref}" ||
		r["status"] != 404.0 || r["principal"] != "dev/admin" || r["lambda_request_id"] == nil {
		t.Errorf("the function's line: %v", r)
	}
	if a == nil || a["allow"] != true || a["principal"] != "dev/admin" {
		t.Errorf("the authorizer's line: %v", a)
	}
	if len(lines) != 2 {
		t.Errorf("%d lines under request id %s, want the function's and the authorizer's: %v", len(lines), id, lines)
	}
}
