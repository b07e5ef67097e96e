package gateway

import "time"

// Limits are the API Gateway HTTP API and Lambda limits the local gateway
// enforces, so that what fails on AWS fails locally too. Sources are in
// docs/gateway-facts.md (§5).
type Limits struct {
	// MaxBody is the largest request body an HTTP API accepts (10 MB).
	MaxBody int64
	// MaxHeaderBytes bounds the request line and headers (10,240 bytes).
	MaxHeaderBytes int
	// MaxRequestPayload is Lambda's synchronous invoke request limit,
	// counted on the whole event JSON (base64 body and envelope).
	MaxRequestPayload int
	// MaxResponsePayload is Lambda's synchronous response limit.
	MaxResponsePayload int
	// Timeout is the HTTP API integration timeout (30 s, not raisable).
	Timeout time.Duration
}

// AWSLimits are the limits in force on AWS (2026).
func AWSLimits() Limits {
	return Limits{
		MaxBody:            10 << 20,
		MaxHeaderBytes:     10240,
		MaxRequestPayload:  6291456,
		MaxResponsePayload: 6291556,
		Timeout:            30 * time.Second,
	}
}

// NoLimits lifts every limit (BERTH_LIMITS=off).
func NoLimits() Limits { return Limits{} }
