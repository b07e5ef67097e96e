package awscall_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/berth-registry/berth/shared/awscall"
)

func answer(status int, header, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if k, v, ok := strings.Cut(header, ": "); ok {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

var accepted = answer(http.StatusAccepted, "", "")

// TestErrorsAreMapped: each protocol's error answer becomes an *Error
// with the exception's bare name and the message (and a smithy-go
// APIError, as the SDK's are); a refusal is not sent again, a service
// failure or throttling is, up to the configured attempts.
func TestErrorsAreMapped(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answers  []func(http.ResponseWriter)
		kms      bool
		attempts int // sent
		code     string
		status   int
		message  string
		fault    smithy.ErrorFault
	}{
		{name: "kms qualified __type", kms: true, attempts: 1, status: 400, code: "AccessDeniedException", message: "not authorized to kms:Decrypt", fault: smithy.FaultClient,
			answers: []func(http.ResponseWriter){answer(400, "", `{"__type":"com.amazonaws.kms#AccessDeniedException","message":"not authorized to kms:Decrypt"}`)}},
		{name: "kms bare __type, Message", kms: true, attempts: 1, status: 400, code: "NotFoundException", message: "Alias not found", fault: smithy.FaultClient,
			answers: []func(http.ResponseWriter){answer(400, "", `{"__type":"NotFoundException","Message":"Alias not found"}`)}},
		{name: "lambda X-Amzn-ErrorType", attempts: 1, status: 404, code: "ResourceNotFoundException", message: "Function not found: berth-fill", fault: smithy.FaultClient,
			answers: []func(http.ResponseWriter){answer(404, "X-Amzn-ErrorType: ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.awsgirapi/", `{"Type":"User","message":"Function not found: berth-fill"}`)}},
		{name: "5xx retried to the last attempt", attempts: 3, status: 500, code: "ServiceException", fault: smithy.FaultServer,
			answers: []func(http.ResponseWriter){answer(500, "X-Amzn-ErrorType: ServiceException", `{}`)}},
		{name: "not JSON", kms: true, attempts: 3, status: 502, code: "Bad Gateway", fault: smithy.FaultServer,
			answers: []func(http.ResponseWriter){answer(502, "", `<html>proxy error</html>`)}},
		{name: "throttled, then queued", attempts: 2,
			answers: []func(http.ResponseWriter){answer(429, "X-Amzn-ErrorType: TooManyRequestsException", `{"message":"Rate exceeded"}`), accepted}},
		{name: "kms throttled at 400, then opened", kms: true, attempts: 2,
			answers: []func(http.ResponseWriter){answer(400, "", `{"__type":"ThrottlingException","message":"Rate exceeded"}`), answer(200, "", `{"Plaintext":"eA=="}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := server(t, tc.answers...)
			cfg := config()
			cfg.RetryMaxAttempts = 3
			var err error
			if tc.kms {
				_, err = awscall.NewKMS(cfg).Decrypt(t.Context(), "k", []byte("x"), nil)
			} else {
				err = awscall.NewLambda(cfg).InvokeEvent(t.Context(), "berth-fill", []byte("{}"))
			}
			if s.count() != tc.attempts {
				t.Errorf("sent %d times, want %d", s.count(), tc.attempts)
			}
			if tc.code == "" {
				if err != nil {
					t.Fatalf("err = %v, want success after a retry", err)
				}
				return
			}
			var e *awscall.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want an *awscall.Error", err, err)
			}
			if e.Code != tc.code || e.Status != tc.status || e.Message != tc.message {
				t.Errorf("error %+v, want %s %d %q", e, tc.code, tc.status, tc.message)
			}
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tc.code || api.ErrorFault() != tc.fault {
				t.Errorf("not the smithy APIError %s (fault %v): %v", tc.code, tc.fault, err)
			}
		})
	}
}

// TestUnreachableEndpoint: a call that reaches no server fails with the
// transport's error once its attempts are spent, and no earlier than the
// context allows.
func TestUnreachableEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:1")
	cfg := config()
	cfg.RetryMaxAttempts = 2
	err := awscall.NewLambda(cfg).InvokeEvent(t.Context(), "berth-fill", []byte("{}"))
	var e *awscall.Error
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "lambda Invoke") {
		t.Fatalf("err = %v, want the transport's error", err)
	}
}
