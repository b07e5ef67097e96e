package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/gateway"
)

// echo is a real Lambda handler that answers with the number of body
// bytes it received.
func echo() gateway.Invoker {
	return handlerFunction(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, strconv.FormatInt(n, 10))
	})
}

// slow is a function that takes longer than the 100 ms test timeout;
// honourCtx makes it give up when its context ends.
func slow(t *testing.T, honourCtx bool) gateway.Invoker {
	ok := respond(t, events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: "0"})
	return invokerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		done := ctx.Done()
		if !honourCtx {
			done = nil
		}
		select {
		case <-time.After(150 * time.Millisecond):
			return ok.Invoke(ctx, payload)
		case <-done:
			return nil, ctx.Err()
		}
	})
}

// upload is a binary PATCH of n bytes.
func upload(n int) func() *http.Request {
	return func() *http.Request {
		req := httptest.NewRequest(http.MethodPatch, "/v2/app/blobs/uploads/u1", bytes.NewReader(make([]byte, n)))
		req.Header.Set("Content-Type", "application/octet-stream")
		return req
	}
}

// paddedHeaders is a GET with header values totalling n bytes, spread
// over headers with long names.
func paddedHeaders(n int) func() *http.Request {
	return func() *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/v2/app/tags/list", nil)
		for i := 0; n > 0; i++ {
			v := min(n, 100)
			req.Header.Set(fmt.Sprintf("X-A-Rather-Long-Header-Name-For-Padding-%04d", i), strings.Repeat("v", v))
			n -= v
		}
		return req
	}
}

func TestLimitsRefuseWhatAWSRefuses(t *testing.T) {
	const kib = 1 << 10
	aws := gateway.AWSLimits()
	tests := []struct {
		name        string
		limits      gateway.Limits
		req         func() *http.Request
		fn          gateway.Invoker
		wantStatus  int
		wantCode    string
		wantMessage []string // substrings of the error message
		wantEcho    int      // body bytes the function must see on success
	}{
		{
			name: "body over MaxBody → 413 UNSUPPORTED naming the limit and what to do", limits: gateway.Limits{MaxBody: kib},
			req: upload(kib + 1), fn: echo(), wantStatus: 413, wantCode: "UNSUPPORTED",
			wantMessage: []string{"1025", "1024-byte limit", "OCI-Chunk-Max-Length", "berth push"},
		},
		{
			name: "body of exactly MaxBody passes", limits: gateway.Limits{MaxBody: kib},
			req: upload(kib), fn: echo(), wantStatus: 200, wantEcho: kib,
		},
		{
			name: "5 MiB binary PATCH fits the body limit but not Lambda's invoke payload → 413", limits: aws,
			req: upload(5 << 20), fn: echo(), wantStatus: 413, wantCode: "UNSUPPORTED",
			wantMessage: []string{"6291456-byte invoke payload limit", "base64", "berth push"},
		},
		{
			name: "4 MiB binary PATCH fits Lambda's invoke payload", limits: aws,
			req: upload(4 << 20), fn: echo(), wantStatus: 200, wantEcho: 4 << 20,
		},
		{
			name: "function slower than the timeout → 503 UNAVAILABLE", limits: gateway.Limits{Timeout: 100 * time.Millisecond},
			req: upload(0), fn: slow(t, false), wantStatus: 503, wantCode: "UNAVAILABLE",
			wantMessage: []string{"100ms integration timeout"},
		},
		{
			name: "function that gives up at the deadline → 503 UNAVAILABLE", limits: gateway.Limits{Timeout: 100 * time.Millisecond},
			req: upload(0), fn: slow(t, true), wantStatus: 503, wantCode: "UNAVAILABLE",
		},
		{
			name: "response over MaxResponsePayload → 500 spec error", limits: gateway.Limits{MaxResponsePayload: kib},
			req: upload(0), wantStatus: 500, wantCode: "UNKNOWN",
			fn: respond(t, events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: strings.Repeat("x", 2*kib)}),
		},
		{
			name: "request line and header values over MaxHeaderBytes → 431", limits: aws,
			req: paddedHeaders(10240), fn: echo(), wantStatus: 431, wantCode: "UNSUPPORTED",
			wantMessage: []string{"at most 10240"},
		},
		{
			name: "header names do not count toward MaxHeaderBytes", limits: aws,
			req: paddedHeaders(9000), fn: echo(), wantStatus: 200,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			newGateway(t, tc.limits, tc.fn, nil).ServeHTTP(rec, tc.req())
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %.300s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode != "" {
				code, msg := decodeSpecError(t, rec.Header().Get("Content-Type"), rec.Body.Bytes())
				if code != tc.wantCode {
					t.Errorf("code %s, want %s (%s)", code, tc.wantCode, msg)
				}
				for _, s := range tc.wantMessage {
					if !strings.Contains(msg, s) {
						t.Errorf("message %q does not mention %q", msg, s)
					}
				}
			}
			if tc.wantEcho > 0 && rec.Body.String() != strconv.Itoa(tc.wantEcho) {
				t.Errorf("function saw %s body bytes, want %d", rec.Body, tc.wantEcho)
			}

			t.Run("NoLimits passes it", func(t *testing.T) {
				rec := httptest.NewRecorder()
				newGateway(t, gateway.NoLimits(), tc.fn, nil).ServeHTTP(rec, tc.req())
				if rec.Code != http.StatusOK {
					t.Errorf("status %d, want 200; body %.300s", rec.Code, rec.Body)
				}
			})
		})
	}
}

// TestBodyOverTenMBIsAnsweredNotReset sends 11 MB through a real server,
// as docker does: with Content-Length and with chunked encoding.
func TestBodyOverTenMBIsAnsweredNotReset(t *testing.T) {
	const size = 11_000_000
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			for _, tc := range []struct {
				limits     gateway.Limits
				wantStatus int
			}{{gateway.AWSLimits(), 413}, {gateway.NoLimits(), 200}} {
				srv := httptest.NewServer(newGateway(t, tc.limits, echo(), nil))
				var body io.Reader = bytes.NewReader(make([]byte, size))
				if chunked {
					body = io.MultiReader(body) // hides the length
				}
				req, err := http.NewRequest(http.MethodPatch, srv.URL+"/v2/app/blobs/uploads/u1", body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/octet-stream")
				if chunked {
					req.ContentLength = -1
					req.TransferEncoding = []string{"chunked"}
				}
				res, err := srv.Client().Do(req)
				if err != nil {
					t.Fatalf("limits %+v: the client got no response: %v", tc.limits, err)
				}
				got, err := io.ReadAll(res.Body)
				res.Body.Close()
				srv.Close()
				if err != nil {
					t.Fatalf("reading the response: %v", err)
				}
				if res.StatusCode != tc.wantStatus {
					t.Fatalf("limits %+v: status %d, want %d; body %.300s", tc.limits, res.StatusCode, tc.wantStatus, got)
				}
				if tc.wantStatus == 200 {
					if string(got) != strconv.Itoa(size) {
						t.Errorf("function saw %s body bytes, want %d", got, size)
					}
					continue
				}
				code, msg := decodeSpecError(t, res.Header.Get("Content-Type"), got)
				if code != "UNSUPPORTED" || !strings.Contains(msg, "10485760-byte limit") || !strings.Contains(msg, "berth push") {
					t.Errorf("got %s %q, want UNSUPPORTED naming the 10485760-byte limit and berth push", code, msg)
				}
			}
		})
	}
}
