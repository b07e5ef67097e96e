package main

import (
	"fmt"
	"github.com/berth-registry/berth/shared/route"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// Two front-door stacks, synthesized once: "west" in eu-west-1 with a
// custom domain (the edge function then lives in the support stack
// berth-test-edge in us-east-1), and "east" in us-east-1 without one (the
// edge function in the stack itself).
type frontStacks struct {
	west, westEdge, east *tpl
	westStack            *Stack
}

var (
	frontOnce sync.Once
	front     frontStacks
	frontErr  error
)

const edgeCert = "arn:aws:acm:us-east-1:123456789012:certificate/abc"

func frontDoorStacks(t *testing.T) frontStacks {
	t.Helper()
	frontOnce.Do(func() {
		cfg := DefaultConfig()
		cfg.DistDir = placeholderDist(t, coreFunctions()...)
		cfg.FrontDoor, cfg.Region = FrontDoorCloudFront, "eu-west-1"
		cfg.DomainName, cfg.CertificateArn = testDomain, edgeCert
		if front.westStack, front.west, frontErr = synthesize(t, cfg); frontErr != nil {
			return
		}
		edge, ok := front.westStack.Node().Root().Node().TryFindChild(jsii.String("berth-test-edge")).(awscdk.Stack)
		if !ok {
			frontErr = fmt.Errorf("no support stack berth-test-edge next to a stack in eu-west-1")
			return
		}
		if r := *edge.Region(); r != "us-east-1" {
			frontErr = fmt.Errorf("support stack in %s, want us-east-1", r)
			return
		}
		front.westEdge = newTpl(assertions.Template_FromStack(edge, nil))
		cfg.DomainName, cfg.CertificateArn, cfg.Region = "", "", "us-east-1"
		_, front.east, frontErr = synthesize(t, cfg)
	})
	if frontErr != nil {
		t.Fatalf("synth: %v", frontErr)
	}
	return front
}

// The distribution is what docs/doctor.md asks for: every method, nothing
// cached, all viewer headers but Host (so Authorization too), bytes
// untouched, HTTP/2 and 3, HTTPS to the API with a 60 s read timeout.
func TestFrontDoorDistributionPassesEverythingThroughUncached(t *testing.T) {
	f := frontDoorStacks(t)
	for _, c := range []struct {
		name   string
		tpl    *tpl
		region string
	}{{"eu-west-1", f.west, "eu-west-1"}, {"us-east-1", f.east, "us-east-1"}} {
		t.Run(c.name, func(t *testing.T) {
			_, d := c.tpl.one(t, "AWS::CloudFront::Distribution")
			dc := d.Properties["DistributionConfig"]
			b := path(dc, "DefaultCacheBehavior")
			apiID, _ := c.tpl.one(t, "AWS::ApiGatewayV2::Api")
			checks := []struct {
				what      string
				got, want any
			}{
				{"allowed methods", fmt.Sprint(path(b, "AllowedMethods")), "[GET HEAD OPTIONS PUT PATCH POST DELETE]"},
				{"cache policy (CachingDisabled)", path(b, "CachePolicyId"), cachingDisabledPolicyID},
				{"origin request policy (AllViewerExceptHostHeader)", path(b, "OriginRequestPolicyId"), allViewerExceptHostHeaderPolicyID},
				{"compression", path(b, "Compress"), false},
				{"viewer protocol", path(b, "ViewerProtocolPolicy"), "redirect-to-https"},
				{"no other behaviors", path(dc, "CacheBehaviors"), nil},
				{"HTTP versions", path(dc, "HttpVersion"), "http2and3"},
				{"one origin", len(asList(path(dc, "Origins"))), 1},
				{"origin", render(path(dc, "Origins", 0, "DomainName"), nil), apiID + ".execute-api." + c.region + ".AWS::URLSuffix"},
				{"origin path (API served at the root)", path(dc, "Origins", 0, "OriginPath"), nil},
				{"origin protocol", path(dc, "Origins", 0, "CustomOriginConfig", "OriginProtocolPolicy"), "https-only"},
				{"origin read timeout", path(dc, "Origins", 0, "CustomOriginConfig", "OriginReadTimeout"), 60.0},
				{"no WAF", path(dc, "WebACLId"), nil},
			}
			for _, ch := range checks {
				if ch.got != ch.want {
					t.Errorf("%s = %v, want %v", ch.what, ch.got, ch.want)
				}
			}
			assoc := asList(path(b, "LambdaFunctionAssociations"))
			if len(assoc) != 1 || path(assoc[0], "EventType") != "origin-response" || path(assoc[0], "IncludeBody") == true {
				t.Errorf("edge associations %v, want one origin-response function without the body", assoc)
			}
		})
	}
}

// In eu-west-1 the association names the version published in the us-east-1
// support stack, read back through SSM; in us-east-1 it names the version
// in the stack. Either way the function is the Node.js origin-response
// code from edge/origin-response/index.js, x86_64, trusted by Lambda@Edge.
func TestFrontDoorEdgeFunctionIsTheInlineNodeCodeInUsEast1(t *testing.T) {
	f := frontDoorStacks(t)
	_, d := f.west.one(t, "AWS::CloudFront::Distribution")
	arn := path(d.Properties, "DistributionConfig", "DefaultCacheBehavior", "LambdaFunctionAssociations", 0, "LambdaFunctionARN", "Fn::GetAtt")
	reader := f.west.Resources[fmt.Sprint(path(arn, 0))]
	if reader.Type != "Custom::CrossRegionStringParameterReader" || path(reader.Properties, "Region") != "us-east-1" || path(arn, 1) != "FunctionArn" {
		t.Fatalf("association ARN %v from %s %v, want the cross-region reader in us-east-1", arn, reader.Type, reader.Properties)
	}
	_, param := f.westEdge.one(t, "AWS::SSM::Parameter")
	if path(param.Properties, "Name") != path(reader.Properties, "ParameterName") {
		t.Errorf("reader reads %v, support stack writes %v", path(reader.Properties, "ParameterName"), path(param.Properties, "Name"))
	}
	versionID, version := f.westEdge.one(t, "AWS::Lambda::Version")
	if path(param.Properties, "Value", "Ref") != versionID {
		t.Errorf("parameter value %v, want the version %s", path(param.Properties, "Value"), versionID)
	}
	_, d = f.east.one(t, "AWS::CloudFront::Distribution")
	eastVersion := path(d.Properties, "DistributionConfig", "DefaultCacheBehavior", "LambdaFunctionAssociations", 0, "LambdaFunctionARN", "Ref")
	if f.east.Resources[fmt.Sprint(eastVersion)].Type != "AWS::Lambda::Version" {
		t.Errorf("us-east-1 association %v, want a Ref to a version in the stack", eastVersion)
	}
	for _, c := range []struct {
		name    string
		tpl     *tpl
		version resource
	}{{"support stack", f.westEdge, version}, {"us-east-1", f.east, f.east.Resources[fmt.Sprint(eastVersion)]}} {
		t.Run(c.name, func(t *testing.T) {
			fnID := fmt.Sprint(path(c.version.Properties, "FunctionName", "Ref"))
			p := c.tpl.Resources[fnID].Properties
			if p["Runtime"] != "nodejs22.x" || p["Handler"] != "index.handler" || p["Architectures"] != nil {
				t.Errorf("edge function runtime %v handler %v architectures %v, want nodejs22.x, index.handler, default x86_64", p["Runtime"], p["Handler"], p["Architectures"])
			}
			if p["Environment"] != nil {
				t.Errorf("edge function environment %v: Lambda@Edge refuses environment variables", p["Environment"])
			}
			if code := path(p, "Code", "ZipFile"); code != originResponseJS || !strings.Contains(originResponseJS, "x-amzn-remapped-www-authenticate") {
				t.Errorf("edge function code is not edge/origin-response/index.js")
			}
			role := c.tpl.Resources[fmt.Sprint(path(p, "Role", "Fn::GetAtt", 0))]
			var trusted []string
			for _, st := range asList(path(role.Properties, "AssumeRolePolicyDocument", "Statement")) {
				trusted = append(trusted, fmt.Sprint(path(st, "Principal", "Service")))
			}
			if fmt.Sprint(trusted) != "[lambda.amazonaws.com edgelambda.amazonaws.com]" {
				t.Errorf("edge role trusts %v", trusted)
			}
		})
	}
	if ids := f.west.ofType("AWS::SSM::Parameter"); len(ids) != 0 {
		t.Errorf("main stack in eu-west-1 holds %v; the edge function's parameter belongs in us-east-1", ids)
	}
}

// Clients are pointed at CloudFront: the custom domain (on the
// distribution, with a us-east-1 certificate) or the distribution's own
// domain; the API keeps no custom domain.
func TestFrontDoorOutputsNameTheDistribution(t *testing.T) {
	f := frontDoorStacks(t)
	value := func(tp *tpl, k string) string { return render(tp.Outputs[k]["Value"], nil) }
	distID, d := f.west.one(t, "AWS::CloudFront::Distribution")
	dc := d.Properties["DistributionConfig"]
	if fmt.Sprint(path(dc, "Aliases")) != "["+testDomain+"]" || path(dc, "ViewerCertificate", "AcmCertificateArn") != edgeCert {
		t.Errorf("aliases %v certificate %v", path(dc, "Aliases"), path(dc, "ViewerCertificate"))
	}
	eastID, _ := f.east.one(t, "AWS::CloudFront::Distribution")
	for _, c := range []struct {
		tpl       *tpl
		out, want string
	}{
		{f.west, "RegistryUrl", "https://" + testDomain},
		{f.west, "DockerLogin", "docker login " + testDomain},
		{f.west, "DomainTarget", distID},
		{f.east, "RegistryUrl", "https://" + eastID},
		{f.east, "DockerLogin", "docker login " + eastID},
	} {
		if got := value(c.tpl, c.out); got != c.want {
			t.Errorf("output %s = %q, want %q", c.out, got, c.want)
		}
	}
	if got := fmt.Sprint(path(f.west.Outputs["DomainTarget"]["Value"], "Fn::GetAtt", 1)); got != "DomainName" {
		t.Errorf("DomainTarget takes the distribution's %s, want DomainName", got)
	}
	if _, ok := f.east.Outputs["DomainTarget"]; ok {
		t.Error("DomainTarget without a custom domain")
	}
	for _, tp := range []*tpl{f.west, f.east} {
		if !strings.Contains(value(tp, "ApiUrl"), ".execute-api.") {
			t.Errorf("ApiUrl %q does not name the API", value(tp, "ApiUrl"))
		}
		for _, typ := range []string{"AWS::ApiGatewayV2::DomainName", "AWS::ApiGatewayV2::ApiMapping"} {
			if ids := tp.ofType(typ); len(ids) != 0 {
				t.Errorf("%s %v behind the CloudFront front door", typ, ids)
			}
		}
	}
}

// Behind CloudFront a function sees the API's Host, not the one a client
// signs an AWS IAM login for: the token and authorizer functions are told
// both names (BERTH_STS_AUDIENCE, docs/auth.md). Nothing else is: no IAM
// permission is needed for sts:GetCallerIdentity.
func TestFrontDoorTellsAWSLoginsTheirAudience(t *testing.T) {
	f := frontDoorStacks(t)
	for _, c := range []struct {
		name string
		tpl  *tpl
		host string
	}{{"custom domain", f.west, testDomain}, {"distribution", f.east, ""}} {
		t.Run(c.name, func(t *testing.T) {
			distID, _ := c.tpl.one(t, "AWS::CloudFront::Distribution")
			host := c.host
			if host == "" {
				host = distID
			}
			ids := c.tpl.functions()
			for name, id := range ids {
				got := render(path(c.tpl.Resources[id].Properties, "Environment", "Variables", "BERTH_STS_AUDIENCE"), nil)
				if name != route.Token && name != route.Authorizer {
					if got != "null" {
						t.Errorf("%s: BERTH_STS_AUDIENCE %q, want none", name, got)
					}
					continue
				}
				public, api, _ := strings.Cut(got, ",")
				if public != host || !strings.Contains(api, ".execute-api.") {
					t.Errorf("%s: BERTH_STS_AUDIENCE %q, want %s and the API's host", name, got, host)
				}
			}
		})
	}
}

// The API front door (the default) builds no CloudFront at all and keeps
// the stack region-agnostic.
func TestDefaultFrontDoorIsTheAPIAlone(t *testing.T) {
	core, full := stacks(t)
	for _, tp := range []*tpl{core, full} {
		for _, typ := range []string{"AWS::CloudFront::Distribution", "AWS::SSM::Parameter", "Custom::CrossRegionStringParameterReader"} {
			if ids := tp.ofType(typ); len(ids) != 0 {
				t.Errorf("%s %v without frontDoor cloudfront", typ, ids)
			}
		}
	}
	if !*awscdk.Token_IsUnresolved(coreStack.Region()) {
		t.Errorf("default stack pinned to region %s", *coreStack.Region())
	}
}

func TestFrontDoorNeedsARegionAndAUsEast1Certificate(t *testing.T) {
	t.Setenv("CDK_DEFAULT_REGION", "")
	cfg := DefaultConfig()
	cfg.DistDir = placeholderDist(t, coreFunctions()...)
	cfg.FrontDoor = FrontDoorCloudFront
	_, err := NewStack(awscdk.NewApp(nil), "berth-noregion", &StackProps{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "-c region=") {
		t.Errorf("NewStack without a region = %v, want an error naming -c region=", err)
	}
	t.Setenv("CDK_DEFAULT_REGION", "ap-southeast-2")
	env, err := frontDoorEnv(cfg, nil)
	if err != nil || *env.Region != "ap-southeast-2" {
		t.Errorf("region from CDK_DEFAULT_REGION: %v %v", env, err)
	}
	cfg.Region = "eu-central-1"
	if env, err = frontDoorEnv(cfg, nil); err != nil || *env.Region != "eu-central-1" {
		t.Errorf("region from context over CDK_DEFAULT_REGION: %v %v", env, err)
	}
	cfg.DomainName, cfg.CertificateArn = testDomain, "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("Validate() with a eu-west-1 certificate = %v, want an error naming us-east-1", err)
	}
	cfg.FrontDoor = FrontDoorAPI
	if err := cfg.Validate(); err != nil {
		t.Errorf("the API's own domain takes a regional certificate: %v", err)
	}
}
