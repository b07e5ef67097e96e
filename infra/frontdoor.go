package main

import (
	_ "embed"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront/experimental"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// originResponseJS is the front door's Lambda@Edge function, inlined into
// the template (CloudFormation has taken inline code over 4 KB since
// 2022, aws-cdk#20624), so the edge function needs no asset and no build
// step. edge/origin-response.test.js tests it.
//
//go:embed edge/origin-response/index.js
var originResponseJS string

// frontDoorEnv pins the stack's region for the CloudFront front door.
//
// Why CDK's EdgeFunction and a pinned region: Lambda@Edge functions must
// live in us-east-1, and the distribution must name a numbered version of
// one. EdgeFunction creates the function in the stack when the stack is
// in us-east-1, and otherwise in a support stack in us-east-1
// (berth-<stage>-edge) whose version ARN the main stack reads at deploy
// time through SSM and a custom resource. Both ways synthesize offline
// (no lookups, no Docker: the inline code above and the custom
// resource's handler that ships inside aws-cdk-lib), which `make synth`
// and the tests confirm. The price is that EdgeFunction must know the
// stack's region, so a stack with this front door is not
// region-agnostic: the region comes from the `region` context key or
// from CDK_DEFAULT_REGION, which the cdk CLI sets from the AWS profile,
// so `cdk deploy` behaves as before. Requiring us-east-1 instead would
// force the registry's data there; a hand-made us-east-1 stack with a
// plain awslambda.Function would need the same SSM bridge that
// EdgeFunction already provides and tests.
func frontDoorEnv(cfg Config, env *awscdk.Environment) (*awscdk.Environment, error) {
	if env != nil && env.Region != nil && !*awscdk.Token_IsUnresolved(env.Region) {
		return env, nil
	}
	region := cfg.Region
	if region == "" {
		region = os.Getenv("CDK_DEFAULT_REGION")
	}
	if region == "" {
		return nil, fmt.Errorf("frontDoor %s needs the stack's region: pass -c region=<region> (cdk deploy takes it from the AWS profile; for make synth, CDK_CONTEXT_JSON='{\"frontDoor\":\"cloudfront\",\"region\":\"eu-west-1\"}')", FrontDoorCloudFront)
	}
	out := awscdk.Environment{Region: jsii.String(region)}
	if env != nil {
		out.Account = env.Account
	}
	return &out, nil
}

// Managed CloudFront policies the front door uses (their IDs are fixed by
// AWS; the template tests assert them).
const (
	cachingDisabledPolicyID           = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	allViewerExceptHostHeaderPolicyID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
)

// frontDoor puts a CloudFront distribution in front of the HTTP API
// (docs/doctor.md, "What frontDoor: cloudfront must build"): nothing
// cached, every viewer header but Host forwarded (with caching disabled
// that includes Authorization, re:Post knowledge-center
// "cloudfront-authorization-header"; API Gateway needs its own Host),
// bodies byte-exact (no compression), and the origin-response edge
// function that repairs what the gateway may break. Blob GETs still
// redirect straight to S3.
func (s *Stack) frontDoor(apiHost *string) awscloudfront.Distribution {
	fn := experimental.NewEdgeFunction(s.Stack, jsii.String("OriginResponse"), &experimental.EdgeFunctionProps{
		Description: jsii.String("Berth front door: origin-response"),
		// Lambda@Edge runs Node.js or Python, on x86_64 only, without
		// environment variables.
		Runtime:    awslambda.Runtime_NODEJS_22_X(),
		Handler:    jsii.String("index.handler"),
		Code:       awslambda.Code_FromInline(jsii.String(originResponseJS)),
		MemorySize: jsii.Number(128),
		Timeout:    awscdk.Duration_Seconds(jsii.Number(5)),
		StackId:    jsii.String(*s.StackName() + "-edge"),
	})
	origin := awscloudfrontorigins.NewHttpOrigin(apiHost, &awscloudfrontorigins.HttpOriginProps{
		ProtocolPolicy:     awscloudfront.OriginProtocolPolicy_HTTPS_ONLY,
		OriginSslProtocols: &[]awscloudfront.OriginSslPolicy{awscloudfront.OriginSslPolicy_TLS_V1_2},
		// API Gateway's 30 s integration limit answers first; 60 s is
		// CloudFront's most without a quota increase.
		ReadTimeout: awscdk.Duration_Seconds(jsii.Number(60)),
	})
	props := &awscloudfront.DistributionProps{
		Comment: jsii.String("Berth " + s.cfg.Stage + " front door"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:               origin,
			AllowedMethods:       awscloudfront.AllowedMethods_ALLOW_ALL(),
			CachedMethods:        awscloudfront.CachedMethods_CACHE_GET_HEAD(),
			CachePolicy:          awscloudfront.CachePolicy_CACHING_DISABLED(),
			OriginRequestPolicy:  awscloudfront.OriginRequestPolicy_ALL_VIEWER_EXCEPT_HOST_HEADER(),
			Compress:             jsii.Bool(false),
			ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			EdgeLambdas: &[]*awscloudfront.EdgeLambda{{
				EventType:       awscloudfront.LambdaEdgeEventType_ORIGIN_RESPONSE,
				FunctionVersion: fn,
			}},
		},
		HttpVersion: awscloudfront.HttpVersion_HTTP2_AND_3,
	}
	if s.cfg.DomainName != "" {
		props.DomainNames = jsii.Strings(s.cfg.DomainName)
		props.Certificate = awscertificatemanager.Certificate_FromCertificateArn(s.Stack, jsii.String("Certificate"), jsii.String(s.cfg.CertificateArn))
	}
	return awscloudfront.NewDistribution(s.Stack, jsii.String("FrontDoor"), props)
}
