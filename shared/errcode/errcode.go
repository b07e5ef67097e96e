// Package errcode holds the OCI distribution-spec error codes, the HTTP
// status each one is answered with, and the one function that writes them.
//
// Handlers return an *Error (or any error wrapping one); the edge calls
// Write. Errors that are not *Error become 500 UNKNOWN with a generic
// message: internal error text never reaches a client.
package errcode

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/berth-registry/berth/shared/reqinfo"
)

// Code is an error code from the distribution-spec ("Error Codes" table)
// plus the few extra codes Docker clients understand.
type Code string

// The codes of distribution-spec v1.1, section "Error Codes".
const (
	BlobUnknown         Code = "BLOB_UNKNOWN"
	BlobUploadInvalid   Code = "BLOB_UPLOAD_INVALID"
	BlobUploadUnknown   Code = "BLOB_UPLOAD_UNKNOWN"
	DigestInvalid       Code = "DIGEST_INVALID"
	ManifestBlobUnknown Code = "MANIFEST_BLOB_UNKNOWN"
	ManifestInvalid     Code = "MANIFEST_INVALID"
	ManifestUnknown     Code = "MANIFEST_UNKNOWN"
	NameInvalid         Code = "NAME_INVALID"
	NameUnknown         Code = "NAME_UNKNOWN"
	SizeInvalid         Code = "SIZE_INVALID"
	Unauthorized        Code = "UNAUTHORIZED"
	Denied              Code = "DENIED"
	Unsupported         Code = "UNSUPPORTED"
	TooManyRequests     Code = "TOOMANYREQUESTS"
	// RangeInvalid is what distribution answers with 416 for a chunk at the
	// wrong offset; it is not in the spec's table, but clients print it.
	RangeInvalid Code = "RANGE_INVALID"
	// TagInvalid refuses a tag that does not match the spec's tag grammar.
	TagInvalid Code = "TAG_INVALID"
	// Unavailable is answered when a limit of the platform (gateway timeout)
	// cut the request short.
	Unavailable Code = "UNAVAILABLE"
	// Unknown is the catch-all for internal failures.
	Unknown Code = "UNKNOWN"
)

// Codes of Berth's own APIs (admin, retention), beyond the spec's.
const (
	// Invalid refuses a request whose body or parameters are wrong; the
	// message says what to change.
	Invalid Code = "INVALID"
	// NotFound answers for a record (tenancy, user, policy, run...) that
	// does not exist.
	NotFound Code = "NOT_FOUND"
	// Conflict refuses to create what exists, or delete what is in use.
	Conflict Code = "CONFLICT"
)

// status is the HTTP status for each code, from the spec's tables of
// endpoints and failure responses.
var status = map[Code]int{
	BlobUnknown:         http.StatusNotFound,
	BlobUploadInvalid:   http.StatusBadRequest,
	BlobUploadUnknown:   http.StatusNotFound,
	DigestInvalid:       http.StatusBadRequest,
	ManifestBlobUnknown: http.StatusBadRequest,
	ManifestInvalid:     http.StatusBadRequest,
	ManifestUnknown:     http.StatusNotFound,
	NameInvalid:         http.StatusBadRequest,
	NameUnknown:         http.StatusNotFound,
	SizeInvalid:         http.StatusBadRequest,
	Unauthorized:        http.StatusUnauthorized,
	Denied:              http.StatusForbidden,
	Unsupported:         http.StatusMethodNotAllowed,
	TooManyRequests:     http.StatusTooManyRequests,
	RangeInvalid:        http.StatusRequestedRangeNotSatisfiable,
	TagInvalid:          http.StatusBadRequest,
	Unavailable:         http.StatusServiceUnavailable,
	Unknown:             http.StatusInternalServerError,
	Invalid:             http.StatusBadRequest,
	NotFound:            http.StatusNotFound,
	Conflict:            http.StatusConflict,
}

// Error is one spec error: a code, a human message, optional detail, and
// the HTTP status it is answered with.
type Error struct {
	Code    Code
	Message string
	Detail  any
	// Status overrides the code's usual status when nonzero (for example
	// 413 for SIZE_INVALID on a request too large for the gateway).
	Status int
	// Header is added to the response (for example Range on 416).
	Header http.Header
}

// New returns an Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithStatus returns e answering with status instead of the code's usual one.
func (e *Error) WithStatus(status int) *Error { e.Status = status; return e }

// WithHeader returns e with a response header added.
func (e *Error) WithHeader(k, v string) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Set(k, v)
	return e
}

// Error implements error.
func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// HTTPStatus is the status this error is answered with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	if s, ok := status[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

type body struct {
	Errors []item `json:"errors"`
	// RequestID is API Gateway's id of the request (the apigw-requestid
	// response header), by which the registry's logs find it.
	RequestID string `json:"requestId,omitempty"`
}

type item struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// From returns the *Error inside err, or an UNKNOWN error with a generic
// message when err carries none (the caller logs err itself).
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Unknown, Message: "internal error; the registry's logs have details under the request id"}
}

// Write answers err as the spec's JSON error body, with the request id
// the client was given (shared/reqinfo) beside the errors, and inside
// the message of an internal error, which clients print. A HEAD request
// gets the status and headers only.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	e := From(err)
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	var id string
	if r != nil {
		id = reqinfo.ID(r.Context())
	}
	msg := e.Message
	if e.Code == Unknown && id != "" {
		msg += " (request id " + id + ")"
	}
	b, _ := json.Marshal(body{Errors: []item{{Code: e.Code, Message: msg, Detail: e.Detail}}, RequestID: id})
	w.Header().Set("Content-Type", "application/json")
	if r != nil && r.Method == http.MethodHead {
		w.WriteHeader(e.HTTPStatus())
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(b)
}
