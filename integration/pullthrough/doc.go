// Package pullthrough is the end-to-end test of the pull-through cache
// (docs/pull-through.md): a Berth under test, run in-process as `berth
// serve` runs it (local gateway with AWS limits, authentication on, on
// the embedded and the aws backend), caching from real upstreams — a
// second Berth, whose blob GETs redirect to signed URLs, and the
// distribution registry (CNCF's registry:3) with token authentication —
// pulled through with go-containerregistry. The upstreams count the
// requests the cache makes (it says it is berth-pullthrough in its
// User-Agent), so the tests hold cold and warm pulls, tag refreshes and
// concurrent pulls to exact numbers of upstream fetches.
package pullthrough
