package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/berth-registry/berth/shared/route"
)

// The route table is the one source of the API's routes: every key once,
// nothing else, each integrated with the function the table names.
func TestRoutesAreExactlyTheRouteTable(t *testing.T) {
	core, full := stacks(t)
	for _, c := range []struct {
		name   string
		tpl    *tpl
		routes []route.Route
	}{{"core", core, coreRoutes()}, {"full", full, route.Table()}} {
		t.Run(c.name, func(t *testing.T) {
			labels := c.tpl.labels()
			got := map[string][]string{} // route key → functions
			for _, id := range c.tpl.ofType("AWS::ApiGatewayV2::Route") {
				p := c.tpl.Resources[id].Properties
				integ := strings.TrimPrefix(render(p["Target"], labels), "integrations/")
				fn := render(path(c.tpl.Resources[integ].Properties, "IntegrationUri"), labels)
				got[fmt.Sprint(p["RouteKey"])] = append(got[fmt.Sprint(p["RouteKey"])], strings.TrimPrefix(fn, "fn:"))
			}
			if len(got) != len(c.routes) {
				t.Errorf("%d distinct route keys, route table has %d", len(got), len(c.routes))
			}
			for _, r := range c.routes {
				fns := got[r.Key()]
				if len(fns) != 1 || fns[0] != r.Function {
					t.Errorf("route %s → %v, want exactly [%s]", r.Key(), fns, r.Function)
				}
				delete(got, r.Key())
			}
			for k := range got {
				t.Errorf("route %s is not in the route table", k)
			}
		})
	}
}

// Every route but the table's NoAuth ones (/token) carries the REQUEST
// authorizer, which runs on every request (no identity sources, no cache)
// with simple responses.
func TestAuthorizerGuardsEveryRouteButToken(t *testing.T) {
	_, full := stacks(t)
	authID, a := full.one(t, "AWS::ApiGatewayV2::Authorizer")
	p := a.Properties
	if p["AuthorizerType"] != "REQUEST" || p["AuthorizerPayloadFormatVersion"] != "2.0" || p["EnableSimpleResponses"] != true {
		t.Errorf("authorizer type/payload/simple = %v/%v/%v, want REQUEST/2.0/true", p["AuthorizerType"], p["AuthorizerPayloadFormatVersion"], p["EnableSimpleResponses"])
	}
	if src, _ := p["IdentitySource"].([]any); len(src) != 0 {
		t.Errorf("identity sources %v, want none (the authorizer must run on anonymous requests)", src)
	}
	if ttl, _ := p["AuthorizerResultTtlInSeconds"].(float64); ttl != 0 {
		t.Errorf("authorizer cache TTL %v, want 0", ttl)
	}
	if got := render(p["AuthorizerUri"], full.labels()); !strings.Contains(got, "fn:authorizer") {
		t.Errorf("authorizer URI %s does not invoke the authorizer function", got)
	}
	open := map[string]bool{}
	for _, r := range route.Table() {
		if r.NoAuth {
			open[r.Key()] = true
		}
	}
	// The token function authenticates its callers itself: /token, and
	// the console's sign-in, which turns an auth token into a session.
	if !open["GET /token"] || !open["POST /token"] || !open["POST /console/sign-in"] || len(open) != 3 {
		t.Errorf("route table's unauthorized routes %v, want GET and POST /token and POST /console/sign-in", open)
	}
	for _, id := range full.ofType("AWS::ApiGatewayV2::Route") {
		rp := full.Resources[id].Properties
		key := fmt.Sprint(rp["RouteKey"])
		guarded := rp["AuthorizationType"] == "CUSTOM" && path(rp, "AuthorizerId", "Ref") == authID
		if open[key] && (guarded || rp["AuthorizationType"] != "NONE") {
			t.Errorf("%s must not carry the authorizer: %v", key, rp["AuthorizationType"])
		}
		if !open[key] && !guarded {
			t.Errorf("route %s lacks the authorizer", key)
		}
	}
}

// Until functions/authorizer, token and admin are built, the registry's
// routes deploy without the authorizer (the functions then fail closed),
// the later functions' routes are left out, and synth says so.
func TestWithoutLaterZipsRoutesAreLeftOutAndSynthWarns(t *testing.T) {
	core, _ := stacks(t)
	if ids := core.ofType("AWS::ApiGatewayV2::Authorizer"); len(ids) != 0 {
		t.Fatalf("authorizer %v without dist/authorizer.zip", ids)
	}
	for _, id := range core.ofType("AWS::ApiGatewayV2::Route") {
		if at := core.Resources[id].Properties["AuthorizationType"]; at != "NONE" {
			t.Errorf("route %s authorization %v, want NONE", id, at)
		}
	}
	for _, want := range []string{"authorizer.zip", "token.zip", "admin.zip"} {
		warnings := assertions.Annotations_FromStack(coreStack.Stack).FindWarning(jsii.String("*"),
			assertions.Match_StringLikeRegexp(jsii.String(want)))
		if warnings == nil || len(*warnings) == 0 {
			t.Errorf("no synth warning about the missing %s", want)
		}
	}
}

func TestFunctionsAreArm64Al2023WithTheEnvironmentContract(t *testing.T) {
	core, full := stacks(t)
	for _, c := range []struct {
		name string
		tpl  *tpl
		fns  []string
		mem  map[string]float64
		// tenancy and cooling are the stack's settings.
		tenancy, cooling string
	}{
		{"core", core, coreFunctions(), map[string]float64{route.Uploads: 1024}, "dev", "6h"},
		{"full", full, allFunctionNames(), map[string]float64{route.Uploads: 2048, fnRetention: 1024}, fullTenancy, fullCooling},
	} {
		t.Run(c.name, func(t *testing.T) {
			labels := c.tpl.labels()
			ids := c.tpl.functions()
			if got := len(c.tpl.ofType("AWS::Lambda::Function")); got != len(c.fns) || len(ids) != len(c.fns) {
				t.Fatalf("%d functions (%v), want one each of %v", got, ids, c.fns)
			}
			for _, name := range c.fns {
				p := c.tpl.Resources[ids[name]].Properties
				if p["Runtime"] != "provided.al2023" || fmt.Sprint(p["Architectures"]) != "[arm64]" || p["Handler"] != "bootstrap" {
					t.Errorf("%s: runtime %v arch %v handler %v", name, p["Runtime"], p["Architectures"], p["Handler"])
				}
				if mb, ok := c.mem[name]; ok && p["MemorySize"] != mb {
					t.Errorf("%s: memory %v, want %v", name, p["MemorySize"], mb)
				}
				timeout, _ := p["Timeout"].(float64)
				long := name == fnRetention || name == fnFill
				if !long && name != fnEvents && (timeout <= 0 || timeout > 29) {
					t.Errorf("%s: timeout %v s, want within the API's 30 s integration limit", name, timeout)
				}
				if long && timeout != 900 {
					t.Errorf("%s: timeout %v s, want Lambda's 15 minutes", name, timeout)
				}
				want := map[string]string{
					"BERTH_BACKEND": "aws", "BERTH_TABLE": "table", "BERTH_BUCKET": "bucket",
					"BERTH_LIMITS": "aws", "BERTH_PRESIGN_TTL": "15m", "BERTH_LOG_LEVEL": "info",
					"BERTH_METRICS_NAMESPACE": "Berth/prod",
				}
				if name == fnEvents {
					want["BERTH_EVENT_BUS"] = "bus"
				}
				if name == route.Token || name == route.Authorizer {
					want["BERTH_SIGNING_KEY_ID"] = "key"
				}
				// The pull-through cache: who seals or opens upstream
				// credentials gets the key; who serves blob GETs, the
				// fill function.
				switch name {
				case route.Manifests, route.Admin, fnFill:
					want["BERTH_CACHE_KEY_ID"] = "cachekey"
				case route.Blobs, route.Base:
					want["BERTH_CACHE_KEY_ID"] = "cachekey"
					want["BERTH_FILL_FUNCTION"] = "fn:fill"
				}
				// The admin function serves the retention API, which
				// runs retention and decides by the bootstrap tenancy who
				// may collect across tenancies, as shared/admin does who
				// may create tenancies.
				// The console lets the bootstrap tenancy's
				// administrators switch tenancy.
				if name == route.Console {
					want["BERTH_TENANCY"] = c.tenancy
				}
				if name == route.Admin {
					want["BERTH_TENANCY"] = c.tenancy
					// ...and hands the runs it starts to the retention
					// function, when that is deployed.
					want["BERTH_RETENTION_FUNCTION"] = "fn:retention"
				}
				// The console previews and restores with the same
				// retention settings.
				if name == fnRetention || name == route.Admin || name == route.Console {
					want["BERTH_RETENTION_COOLING"] = c.cooling
					want["BERTH_RETENTION_BIN"] = "48h"
					want["BERTH_RETENTION_NOTICE"] = "24h"
					want["BERTH_GC_GRACE"] = "1h"
					want["BERTH_RETENTION_MAX_SHARE"] = "0.5"
					want["BERTH_RETENTION_MAX_COUNT"] = "1000"
				}
				vars, _ := path(p, "Environment", "Variables").(map[string]any)
				got := map[string]string{}
				for k, v := range vars {
					got[k] = render(v, labels)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: environment %v, want %v", name, got, want)
				}
				lg, _ := path(p, "LoggingConfig", "LogGroup", "Ref").(string)
				if days := path(c.tpl.Resources[lg].Properties, "RetentionInDays"); days != 30.0 {
					t.Errorf("%s: log group %q retention %v, want 30 days", name, lg, days)
				}
			}
		})
	}
}

// One invoke permission per routed function (scoped to the API), not one
// per route, keeps each function's resource policy small.
func TestEachFunctionHasOneApiInvokePermission(t *testing.T) {
	core, _ := stacks(t)
	labels := core.labels()
	per := map[string]int{}
	for _, id := range core.ofType("AWS::Lambda::Permission") {
		p := core.Resources[id].Properties
		if p["Principal"] != "apigateway.amazonaws.com" {
			continue
		}
		per[render(p["FunctionName"], labels)]++
		if src := render(p["SourceArn"], labels); !strings.HasSuffix(src, "/*/*/*") {
			t.Errorf("permission %s source %s, want the whole API", id, src)
		}
	}
	for _, name := range route.RegistryFunctions {
		if per["fn:"+name] != 1 {
			t.Errorf("%s: %d API invoke permissions, want 1", name, per["fn:"+name])
		}
	}
}

func TestTableIsOnDemandWithPITRAndTTLAndRetained(t *testing.T) {
	core, _ := stacks(t)
	_, r := core.one(t, "AWS::DynamoDB::Table")
	p := r.Properties
	checks := []struct {
		what string
		got  any
		want any
	}{
		{"billing", p["BillingMode"], "PAY_PER_REQUEST"},
		{"key schema", fmt.Sprint(p["KeySchema"]), "[map[AttributeName:pk KeyType:HASH] map[AttributeName:sk KeyType:RANGE]]"},
		{"attributes", fmt.Sprint(p["AttributeDefinitions"]), "[map[AttributeName:pk AttributeType:S] map[AttributeName:sk AttributeType:S]]"},
		{"PITR", path(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"), true},
		{"TTL attribute", path(p, "TimeToLiveSpecification", "AttributeName"), "ttl"},
		{"TTL enabled", path(p, "TimeToLiveSpecification", "Enabled"), true},
		{"deletion policy", r.DeletionPolicy, "Retain"},
		{"replace policy", r.UpdateReplacePolicy, "Retain"},
		{"no GSI yet", p["GlobalSecondaryIndexes"], nil},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestBucketIsPrivateEncryptedTLSOnlyWithLifecycleAndRetained(t *testing.T) {
	core, _ := stacks(t)
	bucketID, r := core.one(t, "AWS::S3::Bucket")
	p := r.Properties
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if path(p, "PublicAccessBlockConfiguration", k) != true {
			t.Errorf("public access block %s not set", k)
		}
	}
	if sse := path(p, "BucketEncryption", "ServerSideEncryptionConfiguration", 0, "ServerSideEncryptionByDefault", "SSEAlgorithm"); sse != "AES256" {
		t.Errorf("encryption %v, want AES256 (SSE-S3)", sse)
	}
	if r.DeletionPolicy != "Retain" {
		t.Errorf("deletion policy %q, want Retain", r.DeletionPolicy)
	}
	var abort, expire bool
	rules, _ := path(p, "LifecycleConfiguration", "Rules").([]any)
	for _, rule := range rules {
		if path(rule, "Status") != "Enabled" {
			continue
		}
		// Sessions live 24 h after their last request: S3 must not
		// abort a live session's multipart upload a day after it began.
		if path(rule, "AbortIncompleteMultipartUpload", "DaysAfterInitiation") == 2.0 && path(rule, "Prefix") == nil {
			abort = true
		}
		if path(rule, "Prefix") == uploadsPrefix && path(rule, "ExpirationInDays") == 2.0 {
			expire = true
		}
		if pre, _ := path(rule, "Prefix").(string); path(rule, "ExpirationInDays") != nil && pre != uploadsPrefix {
			t.Errorf("rule %v expires objects outside %s", rule, uploadsPrefix)
		}
	}
	if !abort || !expire {
		t.Errorf("lifecycle rules %v: abort-multipart-after-2-days %v, expire-uploads/-after-2-days %v", rules, abort, expire)
	}
	_, pol := core.one(t, "AWS::S3::BucketPolicy")
	if path(pol.Properties, "Bucket", "Ref") != bucketID {
		t.Fatalf("bucket policy is not on the bucket")
	}
	tls := false
	for _, st := range path(pol.Properties, "PolicyDocument", "Statement").([]any) {
		if path(st, "Effect") == "Deny" && path(st, "Condition", "Bool", "aws:SecureTransport") == "false" {
			tls = true
		}
	}
	if !tls {
		t.Error("bucket policy does not deny requests without TLS")
	}
}

// The signing key exists once a function that signs or verifies (token,
// authorizer) is deployed, and only then.
func TestSigningKeyIsAsymmetricP256AndOnlyWithTokenOrAuthorizer(t *testing.T) {
	core, full := stacks(t)
	if keys := keysLabelled(core, "key"); len(keys) != 0 {
		t.Errorf("signing key %v with only the registry functions, which never use it", keys)
	}
	if _, ok := core.Outputs["SigningKeyArn"]; ok {
		t.Error("SigningKeyArn output without a key")
	}
	keys := keysLabelled(full, "key")
	if len(keys) != 1 {
		t.Fatalf("signing keys %v, want one", keys)
	}
	if k := keys[0]; k.Properties["KeySpec"] != "ECC_NIST_P256" || k.Properties["KeyUsage"] != "SIGN_VERIFY" {
		t.Errorf("key %v/%v, want ECC_NIST_P256/SIGN_VERIFY", k.Properties["KeySpec"], k.Properties["KeyUsage"])
	}
}

// The pull-through cache's key is one symmetric key, rotated and kept
// with the table whose ciphertexts it opens, in every stack (the
// registry functions fill from upstreams).
func TestCacheKeyIsSymmetricRotatedAndRetained(t *testing.T) {
	core, full := stacks(t)
	for name, tp := range map[string]*tpl{"core": core, "full": full} {
		keys := keysLabelled(tp, "cachekey")
		if len(keys) != 1 {
			t.Fatalf("%s: cache keys %v, want one", name, keys)
		}
		k := keys[0]
		if k.Properties["EnableKeyRotation"] != true || k.DeletionPolicy != "Retain" || k.Properties["KeyUsage"] != nil {
			t.Errorf("%s: cache key rotation %v, deletion %q, usage %v; want rotated, retained, ENCRYPT_DECRYPT (the default)",
				name, k.Properties["EnableKeyRotation"], k.DeletionPolicy, k.Properties["KeyUsage"])
		}
	}
}

// keysLabelled returns the KMS keys of tp that labels() names label.
func keysLabelled(tp *tpl, label string) []resource {
	labels := tp.labels()
	var out []resource
	for _, id := range tp.ofType("AWS::KMS::Key") {
		if labels[id] == label {
			out = append(out, tp.Resources[id])
		}
	}
	return out
}

func TestStageServesAtRootWithThrottling(t *testing.T) {
	core, full := stacks(t)
	_, st := core.one(t, "AWS::ApiGatewayV2::Stage")
	p := st.Properties
	if p["StageName"] != "$default" || p["AutoDeploy"] != true {
		t.Errorf("stage %v auto-deploy %v, want $default/true", p["StageName"], p["AutoDeploy"])
	}
	if path(p, "DefaultRouteSettings", "ThrottlingRateLimit") != 1000.0 || path(p, "DefaultRouteSettings", "ThrottlingBurstLimit") != 2000.0 {
		t.Errorf("throttling %v, want rate 1000 burst 2000", p["DefaultRouteSettings"])
	}
	_, d := full.one(t, "AWS::ApiGatewayV2::DomainName")
	if d.Properties["DomainName"] != testDomain {
		t.Errorf("domain %v", d.Properties["DomainName"])
	}
	_, m := full.one(t, "AWS::ApiGatewayV2::ApiMapping")
	if m.Properties["ApiMappingKey"] != nil {
		t.Errorf("API mapped under key %v, want the domain root", m.Properties["ApiMappingKey"])
	}
}

func TestOutputsGiveTheURLAndDockerLogin(t *testing.T) {
	core, full := stacks(t)
	value := func(tp *tpl, k string) string { return render(tp.Outputs[k]["Value"], tp.labels()) }
	apiHost := regexpMatch(t, value(core, "DockerLogin"), `^docker login (\S+\.execute-api\.AWS::Region\.AWS::URLSuffix)$`)
	if got := value(core, "RegistryUrl"); got != "https://"+apiHost {
		t.Errorf("RegistryUrl %q, want https://%s", got, apiHost)
	}
	if value(core, "TableName") != "table" || value(core, "BucketName") != "bucket" {
		t.Errorf("TableName/BucketName outputs %q/%q", value(core, "TableName"), value(core, "BucketName"))
	}
	if got := value(core, "BootstrapTenancy"); got != "dev" {
		t.Errorf("BootstrapTenancy output %q, want the default dev", got)
	}
	for k, want := range map[string]string{
		"RegistryUrl":      "https://" + testDomain,
		"DockerLogin":      "docker login " + testDomain,
		"SigningKeyArn":    "key",
		"BootstrapTenancy": fullTenancy,
	} {
		if got := value(full, k); got != want {
			t.Errorf("full output %s = %q, want %q", k, got, want)
		}
	}
	if value(full, "DomainTarget") == "" {
		t.Error("no DomainTarget output for the custom domain's DNS record")
	}
}
