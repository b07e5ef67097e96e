package main

import (
	"testing"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/route"
)

// fn is the function under test.
const fn = route.Base

// TestEvents runs every events/base-*.json through the function as
// Lambda would.
func TestEvents(t *testing.T) {
	cases := []eventtest.Case{
		{File: "base-get.json", Status: 200, Body: "{}", Headers: map[string]string{
			"Content-Type": "application/json", "Docker-Distribution-API-Version": "registry/2.0"}},
		// docker login's first, anonymous probe: the authorizer said 401,
		// and the challenge sends docker to the token endpoint.
		{File: "base-get-anonymous.json", Status: 401, Code: "UNAUTHORIZED", Headers: map[string]string{
			"WWW-Authenticate":                `Bearer realm="https://k7q2v9xw1e.execute-api.eu-west-1.amazonaws.com/token",service="berth"`,
			"Docker-Distribution-API-Version": "registry/2.0"}},
		{File: "base-head.json", Status: 200, Empty: true, Headers: map[string]string{
			"Content-Length": "2", "Docker-Distribution-API-Version": "registry/2.0"}},
		{File: "base-catchall-too-deep.json", Status: 400, Code: "NAME_INVALID"},
		{File: "base-catchall-unknown.json", Status: 404, Code: "UNSUPPORTED"},
		// Should API Gateway not strip docker's trailing slash, the POST
		// reaches the catch-all, and base still starts the upload.
		{File: "base-catchall-uploads-slash.json", Status: 202, Headers: map[string]string{
			"Location": "/v2/dev/hello/blobs/uploads/*", "OCI-Chunk-Max-Length": "4194304"}},
	}
	eventtest.Covered(t, fn, cases)
	eventtest.Env(t)
	eventtest.Run(t, eventtest.Function(t, fn), cases)
}

// TestLinksOnlyWhatItServes: the bootstrap links the registry and the
// Lambda adapter, and no admin API, retention, local gateway, embedded
// store, KMS or SDK credential chain (docs/lambda-mode.md).
func TestLinksOnlyWhatItServes(t *testing.T) { linktest.CheckRegistry(t) }
