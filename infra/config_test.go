package main

import (
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
		{"route to a function the stack lacks", route.RegistryFunctions,
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
