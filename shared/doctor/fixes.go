package doctor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// The checks, in the order they run.
const (
	CheckChallenge      = "challenge"
	CheckAPIVersion     = "api-version"
	CheckClock          = "clock"
	CheckTLS            = "tls"
	CheckToken          = "token"
	CheckBasic          = "basic"
	CheckPushMonolithic = "push-monolithic"
	CheckPushChunked    = "push-chunked"
	CheckPushStreamed   = "push-streamed"
	CheckChunkLimit     = "chunk-limit"
	CheckManifestPut    = "manifest-put"
	CheckManifestHead   = "manifest-head"
	CheckBlobHead       = "blob-head"
	CheckManifestGet    = "manifest-get"
	CheckBlobGet        = "blob-get"
	CheckTags           = "tags-list"
	CheckCleanup        = "cleanup"
)

// Fixes: the stack option or setting that cures each known failure.
// docs/doctor.md explains each one.
const (
	// FixFrontDoor cures a challenge renamed to
	// x-amzn-Remapped-WWW-Authenticate.
	FixFrontDoor = `deploy the CloudFront front door (stack option frontDoor: "cloudfront"; cdk deploy -c frontDoor=cloudfront): its Lambda@Edge origin-response function copies x-amzn-Remapped-WWW-Authenticate back to WWW-Authenticate; give users the CloudFront domain and run berth doctor against it`
	// FixHeadLength cures a HEAD response whose Content-Length is not
	// the content's size.
	FixHeadLength = `deploy the CloudFront front door (stack option frontDoor: "cloudfront"): its origin-response function sets Content-Length on HEAD responses from X-Berth-Content-Length (docs/doctor.md); until then containerd reads the size from this header and docker's blob check fails`
	// FixChunked cures a front door that refuses bodies without a length.
	FixChunked = `the front door refuses request bodies without Content-Length, and docker sends every layer PATCH that way; no stack option changes API Gateway's request framing: push through berth proxy (it re-sends each chunk with a Content-Length), or with crane, skopeo or oras, which send one`
	// FixBareLimit cures an over-limit request answered by the gateway
	// instead of the registry.
	FixBareLimit = `the gateway answered the over-limit request itself, so clients get no hint what to do: deploy the CloudFront front door (stack option frontDoor: "cloudfront"), whose origin-response function turns the gateway's bare 413 into the registry's UNSUPPORTED error; push large layers with berth push`
	// FixIdentitySources cures a 401 the gateway wrote without running
	// the authorizer.
	FixIdentitySources = `the gateway answered 401 without running the authorizer: the Lambda authorizer must have no identity sources, so that it runs on every request and the function writes the challenge; redeploy the stack from infra/`
	// FixAPIVersion cures a stripped Docker-Distribution-API-Version.
	FixAPIVersion = `something in front of the functions drops response headers: forward every origin response header (a CloudFront response headers policy must not remove Docker-Distribution-API-Version)`
	// FixCredentials cures refused credentials.
	FixCredentials = `check the login (<namespace>/<user>) and its auth token: a token is shown once and may have expired or been revoked; an administrator creates one with POST /api/tenancies/<namespace>/users/<user>/tokens`
	// FixTokenRefused cures a registry that refuses its own tokens.
	FixTokenRefused = `the registry refused a token its own /token issued: /token and the authorizer must share BERTH_SERVICE and the signing key (BERTH_SIGNING_KEY_ID); redeploy so both read the same configuration`
	// FixPermissions cures a push the policy refuses.
	FixPermissions = `the login may not push here: pushing into a new repository needs manage in the tenancy (a policy such as "allow group <group> to manage repos in tenancy"); run doctor as a tenancy administrator`
	// FixClock cures clock skew.
	FixClock = `correct the clock of this machine or of the registry's host (NTP): registry tokens and presigned blob URLs live for minutes, so skew makes them look expired or not yet valid`
	// FixCertExpiry cures a certificate close to expiry.
	FixCertExpiry = `renew the TLS certificate: an ACM certificate (stack option certificateArn) renews itself while its DNS validation record stays in place`
	// FixCertUntrusted cures a certificate docker will not trust.
	FixCertUntrusted = `docker refuses an untrusted certificate: put the registry on a custom domain with an ACM certificate (stack options domainName and certificateArn)`
	// FixStorage cures a presigned blob URL that does not serve the blob.
	FixStorage = `the presigned blob URL did not serve the blob: on AWS check that the bucket is in the stack's region and that the blobs function's role may read it (and use its KMS key); with an S3 emulator, AWS_ENDPOINT_URL must be an address clients can reach`
	// FixReach cures a registry that does not answer at all.
	FixReach = `check the URL (the API's endpoint, its custom domain or the CloudFront domain) and that this machine reaches it (proxy, firewall, DNS)`
)

// fixFunction points at the log line of a request the registry failed.
func fixFunction(res *response) string {
	id := res.Header.Get("Apigw-Requestid")
	if id == "" {
		id = res.Header.Get("X-Amzn-Requestid")
	}
	if id == "" {
		return "the registry failed the request: read the functions' logs (CloudWatch Logs, or the local gateway's stderr) around this time"
	}
	return fmt.Sprintf("the registry failed the request: read the function's log line for request id %s (CloudWatch Logs, or the local gateway's stderr)", id)
}

// fixCleanup says how to remove what doctor could not.
func fixCleanup(repo string) string {
	return fmt.Sprintf("delete it by hand: DELETE /api/repositories/%s with an administrator's credentials (deleting needs manage on the repository)", repo)
}

// regError is the distribution spec's error body.
type regError struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// registryError returns the first error code and message of a registry
// JSON error body; ok is false for anything else (a gateway's own answer).
func registryError(b []byte) (code, msg string, ok bool) {
	var e regError
	if json.Unmarshal(b, &e) != nil || len(e.Errors) == 0 || e.Errors[0].Code == "" {
		return "", "", false
	}
	return e.Errors[0].Code, e.Errors[0].Message, true
}

// describe is a one-line account of an answer: status, and the
// registry's error code or the start of whatever body came instead.
func describe(res *response) string {
	s := fmt.Sprintf("%d", res.StatusCode)
	if code, msg, ok := registryError(res.Body); ok {
		return s + " " + code + ": " + clip(msg, 120)
	}
	if b := strings.TrimSpace(string(res.Body)); b != "" {
		return s + " " + clip(b, 120) + " (not the registry's JSON error)"
	}
	return s + " " + http.StatusText(res.StatusCode)
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// fixFor names the fix for an unexpected answer to a registry request.
func fixFor(res *response) string {
	_, _, isReg := registryError(res.Body)
	switch {
	case res.StatusCode == http.StatusUnauthorized:
		return FixCredentials
	case res.StatusCode == http.StatusForbidden && isReg:
		return FixPermissions
	case res.StatusCode == http.StatusRequestEntityTooLarge && !isReg:
		return FixBareLimit
	case res.StatusCode == http.StatusLengthRequired:
		return FixChunked
	case res.StatusCode >= 500 || !isReg:
		return fixFunction(res)
	}
	return "the registry refused a request docker makes: see the error above, and the function's logs"
}
