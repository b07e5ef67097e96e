// Package config is Berth's one configuration loader: every function and
// the local gateway read the same environment contract through FromEnv.
package config

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the environment contract (docs/configuration.md).
type Config struct {
	// Backend is "embedded" (bbolt + files under Data) or "aws"
	// (DynamoDB Table + S3 Bucket).
	Backend string
	// Data is the embedded backend's directory (BERTH_DATA).
	Data string
	// Addr is the local gateway's listen address (BERTH_ADDR).
	Addr string
	// Limits enforces API Gateway's and Lambda's limits in the local
	// gateway (BERTH_LIMITS=aws, the default) or not (off).
	Limits bool
	// Table and Bucket name the AWS resources (BERTH_TABLE, BERTH_BUCKET).
	Table, Bucket string
	// Init creates the table and bucket when missing (BERTH_INIT=1).
	Init bool
	// PresignTTL is the lifetime of blob redirect URLs (BERTH_PRESIGN_TTL).
	PresignTTL time.Duration
	// LogLevel is debug, info, warn or error (BERTH_LOG_LEVEL).
	LogLevel string
	// Auth turns on authentication and policy (BERTH_AUTH=on, the
	// default from the environment; the zero Config has it off, for
	// in-process tests that want an anonymous registry).
	Auth bool
	// Service is the token audience and the challenge's service
	// (BERTH_SERVICE).
	Service string
	// TokenTTL is the lifetime of registry tokens (BERTH_TOKEN_TTL, at
	// most MaxTokenTTL).
	TokenTTL time.Duration
	// SigningKeyID names the KMS ECC_NIST_P256 key that signs registry
	// tokens (BERTH_SIGNING_KEY_ID, as the CDK stack sets it).
	SigningKeyID string
	// SigningKey is a PEM P-256 private key to sign with instead
	// (BERTH_SIGNING_KEY, for emulators and tests); when neither is set
	// the embedded backend keeps a key in Data.
	SigningKey string
	// Tenancy and AdminToken bootstrap the local registry: tenancy
	// BERTH_TENANCY with user admin and auth token BERTH_ADMIN_TOKEN
	// (generated, kept in Data and printed when unset).
	Tenancy    string
	AdminToken string
	// CacheKeyID names the symmetric KMS key that seals pull-through
	// cache rules' upstream credentials (BERTH_CACHE_KEY_ID, as the CDK
	// stack sets it); unset, a key file in Data seals them.
	CacheKeyID string
	// FillFunction is the Lambda function that fills pull-through
	// caches asynchronously (BERTH_FILL_FUNCTION, as the CDK stack sets
	// it on the blobs functions); unset, fills run in this process.
	FillFunction string
	// CacheInsecure allows pull-through upstreams over http and on
	// loopback, private and link-local addresses
	// (BERTH_CACHE_INSECURE=1): for tests and local development only.
	CacheInsecure bool
	// TestClock gives the process a clock that stands still until
	// POST /api/retention/clock moves it (BERTH_TEST_CLOCK=1), for
	// end-to-end tests: every recorded time comes from it
	// (shared/clock).
	TestClock bool
	// OIDCLoopback lets federation rules trust http:// issuers on a
	// loopback host, and key fetches connect to loopback addresses
	// (BERTH_OIDC_LOOPBACK=1): for tests and a registry whose issuer
	// runs on the same machine, never on AWS.
	OIDCLoopback bool
	// STSRegion turns AWS IAM logins on (docs/auth.md): the region their
	// signatures must be scoped to (BERTH_STS_REGION, default
	// AWS_REGION, which Lambda sets; unset, the logins are off).
	STSRegion string
	// STSEndpoint is the STS endpoint AWS IAM logins are checked at
	// (BERTH_STS_ENDPOINT, default https://sts.<STSRegion>.amazonaws.com):
	// https, or http on a loopback host with BERTH_OIDC_LOOPBACK=1.
	STSEndpoint string
	// STSAudiences are the registry host names an AWS IAM login may be
	// signed for (BERTH_STS_AUDIENCE, comma-separated); unset, the host
	// each request was sent to.
	STSAudiences []string
	// WebhookURL, when set, receives every event as a signed POST
	// (BERTH_WEBHOOK_URL; the embedded backend only: on AWS events go
	// to EventBridge), signed with WebhookSecret (BERTH_WEBHOOK_SECRET,
	// required with it). docs/events.md.
	WebhookURL, WebhookSecret string
	// LoginAlertThreshold refused logins in one tenancy within
	// LoginAlertWindow raise login.refused_bulk
	// (BERTH_LOGIN_ALERT_THRESHOLD, default 20;
	// BERTH_LOGIN_ALERT_WINDOW, default 5m). A zero threshold counts
	// nothing.
	LoginAlertThreshold int
	LoginAlertWindow    time.Duration
	// EventBus is the EventBridge bus the events function publishes to
	// (BERTH_EVENT_BUS, set by the CDK stack).
	EventBus string
	// MetricsNamespace is the CloudWatch namespace of the metrics the
	// functions log (BERTH_METRICS_NAMESPACE, default Berth;
	// docs/metrics.md).
	MetricsNamespace string
}

// MaxTokenTTL bounds BERTH_TOKEN_TTL, and so how long a registry token
// outlives the revocation of the auth token it was issued for, or the
// deletion of its user: a Bearer token is checked by signature and
// expiry alone (no storage read per request), so its lifetime is the
// bound docs/auth.md promises.
const MaxTokenTTL = 5 * time.Minute

// Default login alert settings (Config.LoginAlertThreshold, Window).
const (
	DefaultLoginAlertThreshold = 20
	DefaultLoginAlertWindow    = 5 * time.Minute
)

// FromEnv reads the configuration, failing on the first invalid or
// missing variable.
func FromEnv() (Config, error) {
	c := Config{
		Backend:  env("BERTH_BACKEND", "embedded"),
		Data:     env("BERTH_DATA", ".berth"),
		Addr:     env("BERTH_ADDR", "127.0.0.1:5000"),
		Table:    os.Getenv("BERTH_TABLE"),
		Bucket:   os.Getenv("BERTH_BUCKET"),
		Init:     os.Getenv("BERTH_INIT") == "1" || os.Getenv("BERTH_INIT") == "true",
		LogLevel: env("BERTH_LOG_LEVEL", "info"),
	}
	c.Service = env("BERTH_SERVICE", "berth")
	c.Tenancy = env("BERTH_TENANCY", "dev")
	c.AdminToken = os.Getenv("BERTH_ADMIN_TOKEN")
	c.SigningKey = os.Getenv("BERTH_SIGNING_KEY")
	c.SigningKeyID = os.Getenv("BERTH_SIGNING_KEY_ID")
	c.CacheKeyID = os.Getenv("BERTH_CACHE_KEY_ID")
	c.FillFunction = os.Getenv("BERTH_FILL_FUNCTION")
	c.STSRegion = env("BERTH_STS_REGION", os.Getenv("AWS_REGION"))
	c.STSEndpoint = os.Getenv("BERTH_STS_ENDPOINT")
	for _, a := range strings.Split(os.Getenv("BERTH_STS_AUDIENCE"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.STSAudiences = append(c.STSAudiences, a)
		}
	}
	if c.STSEndpoint != "" && c.STSRegion == "" {
		return c, fmt.Errorf("BERTH_STS_ENDPOINT needs BERTH_STS_REGION (or AWS_REGION): the region AWS IAM logins are signed for")
	}
	var err error
	if c.TestClock, err = flag("BERTH_TEST_CLOCK", "a test clock"); err != nil {
		return c, err
	}
	if c.OIDCLoopback, err = flag("BERTH_OIDC_LOOPBACK", "trust loopback http issuers, for tests"); err != nil {
		return c, err
	}
	if c.CacheInsecure, err = flag("BERTH_CACHE_INSECURE", "pull-through upstreams on loopback and private addresses, for tests and local development"); err != nil {
		return c, err
	}
	switch a := env("BERTH_AUTH", "on"); a {
	case "on":
		c.Auth = true
	case "off":
	default:
		return c, fmt.Errorf("BERTH_AUTH must be on or off, not %q", a)
	}
	tt, err := time.ParseDuration(env("BERTH_TOKEN_TTL", MaxTokenTTL.String()))
	if err != nil || tt <= 0 || tt > MaxTokenTTL {
		return c, fmt.Errorf("BERTH_TOKEN_TTL must be a positive duration of at most %v, such as 5m: a revoked auth token or deleted user keeps its registry tokens until they expire", MaxTokenTTL)
	}
	c.TokenTTL = tt
	switch l := env("BERTH_LIMITS", "aws"); l {
	case "aws":
		c.Limits = true
	case "off":
	default:
		return c, fmt.Errorf("BERTH_LIMITS must be aws or off, not %q", l)
	}
	ttl, err := time.ParseDuration(env("BERTH_PRESIGN_TTL", "15m"))
	if err != nil || ttl <= 0 {
		return c, fmt.Errorf("BERTH_PRESIGN_TTL must be a positive duration such as 15m")
	}
	c.PresignTTL = ttl
	if err := c.readEvents(); err != nil {
		return c, err
	}
	switch c.Backend {
	case "embedded":
	case "aws":
		if c.Table == "" {
			return c, fmt.Errorf("BERTH_TABLE is required with BERTH_BACKEND=aws")
		}
		if c.Bucket == "" {
			return c, fmt.Errorf("BERTH_BUCKET is required with BERTH_BACKEND=aws")
		}
	default:
		return c, fmt.Errorf("BERTH_BACKEND must be embedded or aws, not %q", c.Backend)
	}
	return c, nil
}

// flag reads a variable that is 1 (on, meaning what) or unset.
func flag(k, what string) (bool, error) {
	switch v := os.Getenv(k); v {
	case "1":
		return true, nil
	case "", "0":
		return false, nil
	default:
		return false, fmt.Errorf("%s must be 1 (%s) or unset, not %q", k, what, v)
	}
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// readEvents reads the event, alert and metrics settings.
func (c *Config) readEvents() error {
	c.WebhookURL = os.Getenv("BERTH_WEBHOOK_URL")
	c.WebhookSecret = os.Getenv("BERTH_WEBHOOK_SECRET")
	c.MetricsNamespace = env("BERTH_METRICS_NAMESPACE", "Berth")
	c.EventBus = os.Getenv("BERTH_EVENT_BUS")
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("BERTH_WEBHOOK_URL must be an http or https URL, not %q", c.WebhookURL)
		}
		if len(c.WebhookSecret) < 16 {
			return fmt.Errorf("BERTH_WEBHOOK_SECRET (at least 16 characters) is required with BERTH_WEBHOOK_URL: deliveries are signed with it")
		}
		if c.Backend != "embedded" {
			return fmt.Errorf("BERTH_WEBHOOK_URL works with the embedded backend only; on AWS, events go to the stack's EventBridge bus and webhooks are the stack's webhookUrl option (docs/events.md)")
		}
	}
	n, err := strconv.Atoi(env("BERTH_LOGIN_ALERT_THRESHOLD", strconv.Itoa(DefaultLoginAlertThreshold)))
	if err != nil || n < 0 {
		return fmt.Errorf("BERTH_LOGIN_ALERT_THRESHOLD must be a whole number of refused logins (0: off)")
	}
	c.LoginAlertThreshold = n
	w, err := time.ParseDuration(env("BERTH_LOGIN_ALERT_WINDOW", DefaultLoginAlertWindow.String()))
	if err != nil || w < time.Second {
		return fmt.Errorf("BERTH_LOGIN_ALERT_WINDOW must be a duration of at least 1s such as 5m")
	}
	c.LoginAlertWindow = w
	return nil
}
