package main

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/berth-registry/berth/shared/route"
)

// Config is what ops choose per deployment, read from CDK context
// (cdk.json, or `-c key=value` on the cdk command line). docs/deploy.md
// lists every key.
type Config struct {
	// Stage names the deployment (stack berth-<stage>). The API Gateway
	// stage itself is always $default: docker needs /v2/ at the host root.
	Stage string
	// DistDir holds the function zips that `make build` writes.
	DistDir string
	// DomainName and CertificateArn put the registry on a custom domain;
	// both or neither. The ACM certificate is in the stack's region for
	// the API's own domain, in us-east-1 for the CloudFront front door.
	DomainName, CertificateArn string
	// FrontDoor is what clients talk to: FrontDoorAPI (the HTTP API
	// itself) or FrontDoorCloudFront (a distribution with the
	// origin-response edge function, docs/deploy.md). `berth doctor`
	// says which one a deployment needs.
	FrontDoor string
	// Region pins the stack's region, which the CloudFront front door
	// needs (its edge function lives in us-east-1 and the stack must know
	// whether it is there). Empty means CDK_DEFAULT_REGION, which the cdk
	// CLI sets from the profile; other stacks stay region-agnostic.
	Region string
	// Memory overrides functions' memory sizes in MB, by function name.
	Memory map[string]float64
	// LogRetentionDays is how long CloudWatch keeps function logs.
	LogRetentionDays int
	// PresignTTL and LogLevel become BERTH_PRESIGN_TTL and BERTH_LOG_LEVEL.
	PresignTTL, LogLevel string
	// Tenancy is the bootstrap tenancy (BERTH_TENANCY): the one `berth
	// bootstrap` creates, whose administrators create tenancies and start
	// garbage collections, which span every tenancy.
	Tenancy string
	// RetentionCooling is how long a new or changed retention policy only
	// reports before it deletes (BERTH_RETENTION_COOLING).
	RetentionCooling string
	// RetentionBin is how long deleted images stay restorable
	// (BERTH_RETENTION_BIN), RetentionNotice how far ahead a pull warns
	// of a deletion (BERTH_RETENTION_NOTICE; "0s" turns warnings off),
	// and GCGrace how long an unreferenced blob stays untouched before
	// the collector deletes it (BERTH_GC_GRACE). Go durations.
	RetentionBin, RetentionNotice, GCGrace string
	// RetentionMaxShare and RetentionMaxCount are the circuit breaker's
	// default limits per repository and run (BERTH_RETENTION_MAX_SHARE:
	// a share >= 1 is no limit; BERTH_RETENTION_MAX_COUNT: -1 is none).
	RetentionMaxShare float64
	RetentionMaxCount int
	// RetentionConcurrency is the retention function's reserved
	// concurrency: how many repository jobs of a run's fan-out (and the
	// hourly invocation) run at once.
	RetentionConcurrency int
	// ThrottleRate (requests per second) and ThrottleBurst limit the
	// API's $default stage.
	ThrottleRate, ThrottleBurst float64
	// Routes is the route table; nil means route.Table(). Tests set it
	// to add routes of functions that have not landed yet.
	Routes []route.Route
	// WebhookURL (https) receives every event through an EventBridge
	// API destination, authenticated by the header Berth-Webhook-Secret
	// holding the secret in Secrets Manager secret WebhookSecretArn;
	// both or neither (docs/events.md "Webhooks"). WebhookRate caps the
	// deliveries per second.
	WebhookURL, WebhookSecretArn string
	WebhookRate                  float64
	// AlarmTopicArn is the SNS topic the alarms (and the rule for
	// retention breaker trips) notify; empty: none (docs/metrics.md).
	AlarmTopicArn string
	// EventArchiveDays keeps every event in an EventBridge archive for
	// replay that long; 0: no archive.
	EventArchiveDays int
}

// Front doors (Config.FrontDoor).
const (
	FrontDoorAPI        = "api"
	FrontDoorCloudFront = "cloudfront"
)

// DefaultConfig is the configuration when no context is given.
func DefaultConfig() Config {
	return Config{
		Stage:            "prod",
		DistDir:          "../dist",
		FrontDoor:        FrontDoorAPI,
		LogRetentionDays: 30,
		PresignTTL:       "15m",
		LogLevel:         "info",
		Tenancy:          "dev",
		// The retention settings are retention.DefaultConfig's,
		// written out so that the template shows what a deployment uses.
		RetentionCooling:     "6h",
		RetentionBin:         "48h",
		RetentionNotice:      "24h",
		GCGrace:              "1h",
		RetentionMaxShare:    0.5,
		RetentionMaxCount:    1000,
		RetentionConcurrency: 10,
		ThrottleRate:         1000,
		ThrottleBurst:        2000,
		WebhookRate:          10,
		EventArchiveDays:     7,
	}
}

// retentionEnv is the environment retention.ConfigFromEnv reads.
func (c Config) retentionEnv() map[string]string {
	return map[string]string{
		"BERTH_RETENTION_COOLING":   c.RetentionCooling,
		"BERTH_RETENTION_BIN":       c.RetentionBin,
		"BERTH_RETENTION_NOTICE":    c.RetentionNotice,
		"BERTH_GC_GRACE":            c.GCGrace,
		"BERTH_RETENTION_MAX_SHARE": strconv.FormatFloat(c.RetentionMaxShare, 'g', -1, 64),
		"BERTH_RETENTION_MAX_COUNT": strconv.Itoa(c.RetentionMaxCount),
	}
}

// ConfigFromContext reads the configuration from app's context, starting
// from DefaultConfig.
func ConfigFromContext(app awscdk.App) (Config, error) {
	get := func(k string) any { return app.Node().TryGetContext(&k) }
	c := DefaultConfig()
	strs := map[string]*string{
		"stage": &c.Stage, "distDir": &c.DistDir, "domainName": &c.DomainName,
		"certificateArn": &c.CertificateArn, "presignTTL": &c.PresignTTL,
		"logLevel": &c.LogLevel, "retentionCooling": &c.RetentionCooling,
		"frontDoor": &c.FrontDoor, "region": &c.Region, "tenancy": &c.Tenancy,
		"retentionBin": &c.RetentionBin, "retentionNotice": &c.RetentionNotice, "gcGrace": &c.GCGrace,
		"webhookUrl": &c.WebhookURL, "webhookSecretArn": &c.WebhookSecretArn, "alarmTopicArn": &c.AlarmTopicArn,
	}
	for k, p := range strs {
		if v := get(k); v != nil {
			*p = fmt.Sprint(v)
		}
	}
	nums := map[string]*float64{"throttleRate": &c.ThrottleRate, "throttleBurst": &c.ThrottleBurst,
		"retentionMaxShare": &c.RetentionMaxShare, "webhookRate": &c.WebhookRate}
	for k, p := range nums {
		if v := get(k); v != nil {
			n, err := number(v)
			if err != nil {
				return c, fmt.Errorf("context %s: %w", k, err)
			}
			*p = n
		}
	}
	ints := map[string]*int{"logRetentionDays": &c.LogRetentionDays, "retentionMaxCount": &c.RetentionMaxCount,
		"retentionConcurrency": &c.RetentionConcurrency, "eventArchiveDays": &c.EventArchiveDays}
	for k, p := range ints {
		if v := get(k); v != nil {
			n, err := number(v)
			if err != nil || n != math.Trunc(n) {
				return c, fmt.Errorf("context %s: %v is not a whole number", k, v)
			}
			*p = int(n)
		}
	}
	if v := get("memory"); v != nil {
		m, err := memoryMap(v)
		if err != nil {
			return c, fmt.Errorf("context memory: %w", err)
		}
		c.Memory = m
	}
	return c, c.Validate()
}

// number accepts a JSON number (cdk.json) or a numeric string (-c k=v).
func number(v any) (float64, error) {
	switch n := v.(type) {
	case float64:
		return n, nil
	case string:
		return strconv.ParseFloat(strings.TrimSpace(n), 64)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

// memoryMap accepts {"uploads": 2048} (cdk.json) or "uploads=2048,blobs=512"
// (-c memory=...).
func memoryMap(v any) (map[string]float64, error) {
	out := map[string]float64{}
	switch m := v.(type) {
	case map[string]any:
		for k, x := range m {
			n, err := number(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = n
		}
	case string:
		for _, pair := range strings.Split(m, ",") {
			k, x, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok {
				return nil, fmt.Errorf("%q is not name=MB", pair)
			}
			n, err := number(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = n
		}
	default:
		return nil, fmt.Errorf("want an object or name=MB,... not %v", v)
	}
	return out, nil
}

var (
	// tenancyRE and maxTenancyName are shared/admin's rule for tenancy
	// names (one component of an OCI repository name).
	tenancyRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)
	stageRE   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// CloudFront takes certificates from us-east-1 only.
	edgeCertRE = regexp.MustCompile(`^arn:aws[a-z-]*:acm:us-east-1:`)
	secretRE   = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+`)
	topicRE    = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$`)
)

// validateEvents checks the webhook, alarm and archive settings.
func (c Config) validateEvents() error {
	if (c.WebhookURL == "") != (c.WebhookSecretArn == "") {
		return fmt.Errorf("webhookUrl and webhookSecretArn go together: deliveries carry the secret")
	}
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("webhookUrl %q: EventBridge API destinations deliver to https URLs only", c.WebhookURL)
		}
		if !secretRE.MatchString(c.WebhookSecretArn) {
			return fmt.Errorf("webhookSecretArn %q is not a Secrets Manager secret ARN", c.WebhookSecretArn)
		}
	}
	if c.WebhookRate < 1 || c.WebhookRate > 300 {
		return fmt.Errorf("webhookRate %v: want 1 to 300 deliveries a second", c.WebhookRate)
	}
	if c.AlarmTopicArn != "" && !topicRE.MatchString(c.AlarmTopicArn) {
		return fmt.Errorf("alarmTopicArn %q is not an SNS topic ARN", c.AlarmTopicArn)
	}
	if c.EventArchiveDays < 0 || c.EventArchiveDays > 3650 {
		return fmt.Errorf("eventArchiveDays %d: want 0 (no archive) to 3650", c.EventArchiveDays)
	}
	return nil
}

const maxTenancyName = 63

// validateRetention checks the retention function's settings: the
// breaker's limits as retention.ConfigFromEnv takes them, a fan-out of
// at least one job, and a grace period longer than any request of the
// functions that touch blobs (docs/retention.md: the span between a
// push's touch and the write it protects must fit in it).
func (c Config) validateRetention() error {
	if c.RetentionMaxShare <= 0 {
		return fmt.Errorf("retentionMaxShare %v: want a fraction such as 0.5 (1 for no limit)", c.RetentionMaxShare)
	}
	if c.RetentionMaxCount == 0 || c.RetentionMaxCount < -1 {
		return fmt.Errorf("retentionMaxCount %d: want a number of images (-1 for no limit)", c.RetentionMaxCount)
	}
	if c.RetentionConcurrency < 1 || c.RetentionConcurrency > 1000 {
		return fmt.Errorf("retentionConcurrency %d: want 1 to 1000 concurrent jobs", c.RetentionConcurrency)
	}
	grace, _ := time.ParseDuration(c.GCGrace) // parsed by Validate already
	for _, f := range functionTable() {
		if f.Name != fnRetention && f.Name != fnEvents && f.Timeout >= grace { // events touches no blob
			return fmt.Errorf("gcGrace %s: must exceed the longest request, the %s function's timeout of %s", c.GCGrace, f.Name, f.Timeout)
		}
	}
	return nil
}

// Validate reports the first setting that cannot be deployed.
func (c Config) Validate() error {
	if !stageRE.MatchString(c.Stage) {
		return fmt.Errorf("stage %q: use lower-case letters, digits and '-'", c.Stage)
	}
	if (c.DomainName == "") != (c.CertificateArn == "") {
		return fmt.Errorf("domainName and certificateArn go together")
	}
	switch c.FrontDoor {
	case FrontDoorAPI:
	case FrontDoorCloudFront:
		if c.CertificateArn != "" && !edgeCertRE.MatchString(c.CertificateArn) {
			return fmt.Errorf("certificateArn %q: the CloudFront front door needs an ACM certificate in us-east-1", c.CertificateArn)
		}
	default:
		return fmt.Errorf("frontDoor %q: want %s or %s", c.FrontDoor, FrontDoorAPI, FrontDoorCloudFront)
	}
	if c.Region != "" && !regionRE.MatchString(c.Region) {
		return fmt.Errorf("region %q is not an AWS region name such as eu-west-1", c.Region)
	}
	known := map[string]bool{}
	for _, f := range functionTable() {
		known[f.Name] = true
	}
	for name, mb := range c.Memory {
		if !known[name] {
			return fmt.Errorf("memory: no function %q", name)
		}
		if mb < 128 || mb > 10240 {
			return fmt.Errorf("memory %s: %v MB is outside Lambda's 128..10240", name, mb)
		}
	}
	if _, ok := retentionDays[c.LogRetentionDays]; !ok {
		return fmt.Errorf("logRetentionDays %d is not a CloudWatch Logs retention period", c.LogRetentionDays)
	}
	for k, v := range map[string]string{"presignTTL": c.PresignTTL, "retentionCooling": c.RetentionCooling,
		"retentionBin": c.RetentionBin, "gcGrace": c.GCGrace} {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return fmt.Errorf("%s %q: want a positive Go duration such as 15m", k, v)
		}
	}
	if d, err := time.ParseDuration(c.RetentionNotice); err != nil || d < 0 {
		return fmt.Errorf("retentionNotice %q: want a Go duration such as 24h (0s: no warnings)", c.RetentionNotice)
	}
	if err := c.validateRetention(); err != nil {
		return err
	}
	if err := c.validateEvents(); err != nil {
		return err
	}
	if len(c.Tenancy) > maxTenancyName || !tenancyRE.MatchString(c.Tenancy) {
		return fmt.Errorf("tenancy %q: 1 to %d characters of a-z and 0-9, with '.', '_' or '-' between them (the first segment of repository names)", c.Tenancy, maxTenancyName)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("logLevel %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.ThrottleRate <= 0 || c.ThrottleBurst <= 0 {
		return fmt.Errorf("throttleRate and throttleBurst must be positive")
	}
	return nil
}
