// Package awscall sends the few AWS API calls Berth's functions need
// beyond DynamoDB and S3 — KMS's Decrypt and Encrypt (a cache rule's
// upstream credentials), GetPublicKey and Sign (the registry-token key,
// shared/store/kmskey), and lambda:Invoke (InvocationType Event) of the
// fill function — as SigV4-signed HTTP requests, with only the SDK
// pieces every function already links (aws.Config's credentials and
// region, the v4 signer).
//
// It exists for cold start (issue 14, docs/lambda-mode.md). The SDK's
// KMS and Lambda clients, with their schemas packages, which allocate at
// package init, made the manifests and blobs bootstraps 11.53 MB
// (linux/arm64, stripped; the budget of a registry function is 11 MB)
// and doubled their package init: 14,206 allocations (2.3 MB) and a
// median 6.1 ms, against 6,805 (1.1 MB) and 3.6 ms without them, as the
// base function's 3.5 ms (GODEBUG=inittrace=1, linux/amd64, 60 runs).
// Without them manifests and blobs are 10.35 MB, as the other registry
// functions; fill went from 10.88 to 9.83 MB, retention from 10.42 to
// 9.63 MB and admin from 11.53 to 10.88 MB. The token function, the
// authorizer and the admin function then kept the SDK's KMS client for
// its other operations; its package init (about 0.5 ms) was most of what
// they started with beyond the registry functions, and they now call
// KMS here too.
//
// Each call is a few lines of a documented wire protocol; anything more
// (paging, event streams, another service) belongs to the SDK.
package awscall

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"

	"github.com/berth-registry/berth/shared/awsenv"
)

// maxResponse bounds what a call reads of an answer: KMS's plaintexts
// are at most 4 KiB, and Event invocations answer with an empty body.
const maxResponse = 1 << 20

// client signs and sends calls to one AWS service.
type client struct {
	service  string // the signing name: "kms", "lambda"
	endpoint string // scheme://host, without a trailing slash
	region   string
	creds    aws.CredentialsProvider
	http     aws.HTTPClient
	attempts int
	signer   *v4.Signer
}

// newClient returns a client of service with cfg's region, credentials,
// HTTP client and attempts; its endpoint is the one the environment
// names for the service (awsenv.Endpoint: AWS_ENDPOINT_URL_<SERVICE>,
// else AWS_ENDPOINT_URL), else cfg.BaseEndpoint, else AWS's own, as the
// SDK's clients choose theirs.
func newClient(cfg aws.Config, service string) *client {
	ep := "https://" + service + "." + cfg.Region + ".amazonaws.com"
	if e := awsenv.Endpoint(service); e != nil {
		ep = *e
	} else if cfg.BaseEndpoint != nil {
		ep = *cfg.BaseEndpoint
	}
	c := &client{
		service: service, endpoint: strings.TrimRight(ep, "/"), region: cfg.Region,
		creds: cfg.Credentials, http: cfg.HTTPClient, attempts: cfg.RetryMaxAttempts, signer: v4.NewSigner(),
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.attempts < 1 {
		c.attempts = 3 // the SDK's standard retryer
	}
	return c
}

// Error is an AWS service's error answer: its error code (the
// exception's name) and message. It implements smithy-go's APIError, as
// the SDK's errors do. Its text names the service and key or function
// and is for logs: the registry answers clients with its own error codes.
type Error struct {
	Service   string // "kms", "lambda"
	Operation string // "Decrypt", "Invoke"
	Status    int    // the HTTP status
	Code      string // e.g. "AccessDeniedException", "ResourceNotFoundException"
	Message   string
}

var _ smithy.APIError = (*Error)(nil)

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s: %s", e.Service, e.Operation, e.Status, e.Code, e.Message)
}

// ErrorCode is the exception's name.
func (e *Error) ErrorCode() string { return e.Code }

// ErrorMessage is the service's message.
func (e *Error) ErrorMessage() string { return e.Message }

// ErrorFault says whose fault the error is: the service's for a 5xx.
func (e *Error) ErrorFault() smithy.ErrorFault {
	if e.Status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// retryable reports whether the call may succeed if sent again: the
// service failed or throttled it.
func (e *Error) retryable() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests ||
		strings.Contains(e.Code, "Throttl") || strings.Contains(e.Code, "TooManyRequests")
}

// do sends one call, with header and body, signing each attempt anew;
// it retries what failed in the service or on the way (up to the
// configured attempts, backing off) and returns the body of an answer
// with status want, or an *Error.
func (c *client) do(ctx context.Context, op, path string, header http.Header, body []byte, want int) ([]byte, error) {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	var last error
	for try := range c.attempts {
		if try > 0 {
			back := min(50*time.Millisecond<<try, time.Second)
			select {
			case <-ctx.Done():
				return nil, errors.Join(ctx.Err(), last)
			case <-time.After(back/2 + rand.N(back/2)):
			}
		}
		out, again, err := c.send(ctx, op, path, header, body, hash, want)
		if err == nil || !again || ctx.Err() != nil {
			return out, err
		}
		last = err
	}
	return nil, last
}

// send is one attempt of do; again says whether it may be retried.
func (c *client) send(ctx context.Context, op, path string, header http.Header, body []byte, hash string, want int) (out []byte, again bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, false, fmt.Errorf("%s %s: %w", c.service, op, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// With no credentials the call goes unsigned, as the SDK's clients
	// send it (an emulator may take it; AWS refuses it with its error).
	if c.creds != nil {
		creds, err := c.creds.Retrieve(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("%s %s: credentials: %w", c.service, op, err)
		}
		if err := c.signer.SignHTTP(ctx, creds, req, hash, c.service, c.region, time.Now()); err != nil {
			return nil, false, fmt.Errorf("%s %s: signing: %w", c.service, op, err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, true, fmt.Errorf("%s %s: %w", c.service, op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, true, fmt.Errorf("%s %s: reading the answer: %w", c.service, op, err)
	}
	if resp.StatusCode == want {
		return b, false, nil
	}
	e := apiError(c.service, op, resp, b)
	return nil, e.retryable(), e
}

// apiError reads an error answer: the code from the X-Amzn-ErrorType
// header (Lambda's REST-JSON) or the body's __type (KMS's JSON 1.1),
// either possibly qualified ("com.amazonaws.kms#NotFoundException",
// "ResourceNotFoundException:http://..."), and the message from the
// body's message or Message.
func apiError(service, op string, resp *http.Response, body []byte) *Error {
	var b struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	_ = json.Unmarshal(body, &b) // a body that is not JSON leaves the status to speak
	code := resp.Header.Get("X-Amzn-ErrorType")
	if code == "" {
		code = b.Type
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	msg := b.Message
	if msg == "" {
		msg = b.Message2
	}
	return &Error{Service: service, Operation: op, Status: resp.StatusCode, Code: code, Message: msg}
}
