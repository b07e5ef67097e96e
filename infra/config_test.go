package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/berth-registry/berth/shared/route"
)

func TestConfigFromContextReadsCLIStringsAndCdkJSONValues(t *testing.T) {
	for _, c := range []struct {
		name string
		ctx  map[string]any
		want func(Config) bool
	}{
		{"defaults", nil, func(c Config) bool {
			return c.Stage == "prod" && c.DistDir == "../dist" && c.LogRetentionDays == 30 && c.ThrottleRate == 1000 &&
				c.FrontDoor == FrontDoorAPI && c.Region == ""
		}},
		{"-c strings", map[string]any{"stage": "dev", "memory": "uploads=2048, blobs=512", "throttleRate": "50", "logRetentionDays": "7"},
			func(c Config) bool {
				return c.Stage == "dev" && c.Memory["uploads"] == 2048 && c.Memory["blobs"] == 512 && c.ThrottleRate == 50 && c.LogRetentionDays == 7
			}},
		{"cdk.json values", map[string]any{"memory": map[string]any{"uploads": 3008}, "throttleBurst": 10, "retentionCooling": "24h"},
			func(c Config) bool {
				return c.Memory["uploads"] == 3008 && c.ThrottleBurst == 10 && c.RetentionCooling == "24h"
			}},
		{"front door and region", map[string]any{"frontDoor": "cloudfront", "region": "eu-west-1"},
			func(c Config) bool { return c.FrontDoor == FrontDoorCloudFront && c.Region == "eu-west-1" }},
		{"default tenancy and retention", nil, func(c Config) bool {
			return c.Tenancy == "dev" && c.RetentionConcurrency == 10 && c.GCGrace == "1h" &&
				fmt.Sprint(c.retentionEnv()) == "map[BERTH_GC_GRACE:1h BERTH_RETENTION_BIN:48h BERTH_RETENTION_COOLING:6h "+
					"BERTH_RETENTION_MAX_COUNT:1000 BERTH_RETENTION_MAX_SHARE:0.5 BERTH_RETENTION_NOTICE:24h]"
		}},
		{"tenancy and retention as -c strings", map[string]any{"tenancy": "acme", "retentionConcurrency": "4",
			"retentionMaxShare": "1", "retentionMaxCount": "-1", "retentionNotice": "0s", "gcGrace": "3h", "retentionBin": "168h"},
			customRetention},
		{"tenancy and retention from cdk.json", map[string]any{"tenancy": "acme", "retentionConcurrency": 4,
			"retentionMaxShare": 1, "retentionMaxCount": -1, "retentionNotice": "0s", "gcGrace": "3h", "retentionBin": "168h"},
			customRetention},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := c.ctx
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
			got, err := ConfigFromContext(app)
			if err != nil {
				t.Fatal(err)
			}
			if !c.want(got) {
				t.Errorf("config %+v", got)
			}
		})
	}
}

// customRetention is what the tenancy and retention cases set.
func customRetention(c Config) bool {
	return c.Tenancy == "acme" && c.RetentionConcurrency == 4 && fmt.Sprint(c.retentionEnv()) ==
		"map[BERTH_GC_GRACE:3h BERTH_RETENTION_BIN:168h BERTH_RETENTION_COOLING:6h "+
			"BERTH_RETENTION_MAX_COUNT:-1 BERTH_RETENTION_MAX_SHARE:1 BERTH_RETENTION_NOTICE:0s]"
}

func TestConfigRejectsWhatCannotDeploy(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"domain without certificate", func(c *Config) { c.DomainName = "r.example.com" }, "go together"},
		{"certificate without domain", func(c *Config) { c.CertificateArn = "arn:aws:acm:x" }, "go together"},
		{"memory for unknown function", func(c *Config) { c.Memory = map[string]float64{"nope": 256} }, `no function "nope"`},
		{"memory beyond Lambda", func(c *Config) { c.Memory = map[string]float64{"uploads": 20000} }, "outside"},
		{"stage with upper case", func(c *Config) { c.Stage = "Prod" }, "stage"},
		{"odd log retention", func(c *Config) { c.LogRetentionDays = 10 }, "retention period"},
		{"bad presign TTL", func(c *Config) { c.PresignTTL = "soon" }, "presignTTL"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "logLevel"},
		{"zero throttle", func(c *Config) { c.ThrottleRate = 0 }, "throttle"},
		{"unknown front door", func(c *Config) { c.FrontDoor = "akamai" }, `frontDoor "akamai"`},
		{"CloudFront with a regional certificate", func(c *Config) {
			c.FrontDoor, c.DomainName, c.CertificateArn = FrontDoorCloudFront, "r.example.com", "arn:aws:acm:eu-west-1:1:certificate/x"
		}, "us-east-1"},
		{"region that is not one", func(c *Config) { c.Region = "Europe" }, "region"},
		{"tenancy with upper case", func(c *Config) { c.Tenancy = "Acme" }, `tenancy "Acme"`},
		{"tenancy with a slash", func(c *Config) { c.Tenancy = "acme/team" }, "tenancy"},
		{"empty tenancy", func(c *Config) { c.Tenancy = "" }, "tenancy"},
		{"tenancy over 63 characters", func(c *Config) { c.Tenancy = strings.Repeat("a", 64) }, "tenancy"},
		{"no retention concurrency", func(c *Config) { c.RetentionConcurrency = 0 }, "retentionConcurrency"},
		{"negative notice", func(c *Config) { c.RetentionNotice = "-1h" }, "retentionNotice"},
		{"bin in days", func(c *Config) { c.RetentionBin = "7d" }, "retentionBin"},
		{"zero delete share", func(c *Config) { c.RetentionMaxShare = 0 }, "retentionMaxShare"},
		{"zero delete count", func(c *Config) { c.RetentionMaxCount = 0 }, "retentionMaxCount"},
		{"grace within a request", func(c *Config) { c.GCGrace = "29s" }, "function's timeout of 29s"},
		{"grace within a fill", func(c *Config) { c.GCGrace = "10m" }, "fill function's timeout of 15m0s"},
		{"webhook without its secret", func(c *Config) { c.WebhookURL = "https://h.example.com/x" }, "go together"},
		{"webhook over http", func(c *Config) {
			c.WebhookURL, c.WebhookSecretArn = "http://h.example.com/x", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"
		}, "https URLs only"},
		{"webhook secret that is not a secret", func(c *Config) {
			c.WebhookURL, c.WebhookSecretArn = "https://h.example.com/x", "hunter2"
		}, "not a Secrets Manager secret ARN"},
		{"webhook rate over the limit", func(c *Config) { c.WebhookRate = 1000 }, "webhookRate"},
		{"alarm topic that is not a topic", func(c *Config) { c.AlarmTopicArn = "arn:aws:sqs:eu-west-1:123456789012:q" }, "not an SNS topic ARN"},
		{"negative archive", func(c *Config) { c.EventArchiveDays = -1 }, "eventArchiveDays"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestStackRefusesMissingZipsAndUnknownRouteFunctions(t *testing.T) {
	for _, c := range []struct {
		name   string
		dist   []string
		routes []route.Route
		want   string
	}{
		{"registry function zip missing", []string{route.Base}, nil, "make build"},
		{"route to a function the stack lacks", coreFunctions(),
			[]route.Route{{Method: "GET", Path: "/nope", Function: "nope"}}, `no function "nope"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DistDir = placeholderDist(t, c.dist...)
			cfg.Routes = c.routes
			app := awscdk.NewApp(nil)
			_, err := NewStack(app, "berth-bad", &StackProps{Config: cfg})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewStack() = %v, want an error containing %q", err, c.want)
			}
		})
	}
}
