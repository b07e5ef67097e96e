package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
	"github.com/berth-registry/berth/shared/route"
)

// api is the HTTP API: its $default stage serves at the host root (docker
// needs /v2/ there), its routes are the route table's, one per entry, and
// every route but those marked NoAuth (/token) carries the authorizer.
func (s *Stack) api() error {
	s.API = awsapigatewayv2.NewHttpApi(s.Stack, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String("berth-" + s.cfg.Stage),
		Description:        jsii.String("Berth container registry (OCI Distribution API)"),
		CreateDefaultStage: jsii.Bool(false),
	})
	var domain awsapigatewayv2.DomainName
	var mapping *awsapigatewayv2.DomainMappingOptions
	// Behind CloudFront the custom domain belongs to the distribution.
	if s.cfg.DomainName != "" && s.cfg.FrontDoor == FrontDoorAPI {
		domain = awsapigatewayv2.NewDomainName(s.Stack, jsii.String("Domain"), &awsapigatewayv2.DomainNameProps{
			DomainName:  jsii.String(s.cfg.DomainName),
			Certificate: awscertificatemanager.Certificate_FromCertificateArn(s.Stack, jsii.String("Certificate"), jsii.String(s.cfg.CertificateArn)),
		})
		mapping = &awsapigatewayv2.DomainMappingOptions{DomainName: domain}
	}
	s.Stage = awsapigatewayv2.NewHttpStage(s.Stack, jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:       s.API,
		StageName:     jsii.String("$default"),
		AutoDeploy:    jsii.Bool(true),
		DomainMapping: mapping,
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(s.cfg.ThrottleRate),
			BurstLimit: jsii.Number(s.cfg.ThrottleBurst),
		},
	})
	s.accessLog()
	if err := s.routes(); err != nil {
		return err
	}
	s.outputs(domain)
	return nil
}

// accessLogFormat is the $default stage's access log line: one JSON
// object per request, with the request id the client got in
// apigw-requestid (and the functions' log lines and error bodies carry),
// the route, the status and latencies, the authorizer's verdict and
// principal, and API Gateway's own error when it answered itself
// (variables: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html).
var accessLogFormat = map[string]string{
	"requestId":          "$context.requestId",
	"time":               "$context.requestTime",
	"ip":                 "$context.identity.sourceIp",
	"userAgent":          "$context.identity.userAgent",
	"method":             "$context.httpMethod",
	"path":               "$context.path",
	"routeKey":           "$context.routeKey",
	"protocol":           "$context.protocol",
	"status":             "$context.status",
	"responseLength":     "$context.responseLength",
	"responseLatency":    "$context.responseLatency",
	"integrationStatus":  "$context.integrationStatus",
	"integrationLatency": "$context.integrationLatency",
	"integrationError":   "$context.integrationErrorMessage",
	"error":              "$context.error.message",
	"authorizerError":    "$context.authorizer.error",
	"authorizerLatency":  "$context.authorizer.latency",
	"tenancy":            "$context.authorizer.tenancy",
	"user":               "$context.authorizer.user",
	"decision":           "$context.authorizer.status",
}

// accessLog sends the stage's access log, as JSON, to a log group of its
// own with the stack's log retention.
func (s *Stack) accessLog() {
	logs := awslogs.NewLogGroup(s.Stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     retentionDays[s.cfg.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	format, _ := json.Marshal(accessLogFormat) // keys sorted: a stable template
	stage := s.Stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	stage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: logs.LogGroupArn(),
		Format:         jsii.String(string(format)),
	})
}

// routes creates one HttpRoute per route-table entry. Each function has
// one integration, whose invoke permission covers the whole API (one
// resource-policy statement per function rather than one per route,
// which would outgrow Lambda's 20 KB policy limit at 8 name depths).
func (s *Stack) routes() error {
	auth := s.authorizer()
	integrations := map[string]awsapigatewayv2integrations.HttpLambdaIntegration{}
	later := map[string]bool{}
	for _, f := range functionTable() {
		later[f.Name] = f.Later
	}
	table := s.cfg.Routes
	if table == nil {
		table = route.Table()
	}
	seen := map[string]bool{}
	skipped := map[string]bool{}
	for _, r := range table {
		fn, ok := s.Functions[r.Function]
		switch {
		case !ok && later[r.Function]:
			if !skipped[r.Function] {
				skipped[r.Function] = true
				awscdk.Annotations_Of(s.Stack).AddWarningV2(jsii.String("berth:skipped-"+r.Function),
					jsii.String(fmt.Sprintf("dist/%s.zip not found: the routes of function %s are not deployed", r.Function, r.Function)), nil)
			}
			continue
		case !ok:
			return fmt.Errorf("route %s: the stack has no function %q (add it to functionTable)", r.Key(), r.Function)
		}
		id := "Route " + strings.ReplaceAll(r.Key(), "/", "|")
		if seen[id] {
			return fmt.Errorf("route %s appears twice in the route table", r.Key())
		}
		seen[id] = true
		integ, ok := integrations[r.Function]
		if !ok {
			integ = awsapigatewayv2integrations.NewHttpLambdaIntegration(
				jsii.String(*fn.Node().Id()+"Integration"), fn,
				&awsapigatewayv2integrations.HttpLambdaIntegrationProps{ScopePermissionToRoute: jsii.Bool(false)})
			integrations[r.Function] = integ
		}
		props := &awsapigatewayv2.HttpRouteProps{
			HttpApi:     s.API,
			RouteKey:    awsapigatewayv2.HttpRouteKey_With(jsii.String(r.Path), awsapigatewayv2.HttpMethod(r.Method)),
			Integration: integ,
		}
		if auth != nil && !r.NoAuth {
			props.Authorizer = auth
		}
		awsapigatewayv2.NewHttpRoute(s.API, jsii.String(id), props)
	}
	return nil
}

// authorizer is the Lambda REQUEST authorizer (payload 2.0, simple
// responses) with no identity sources and no caching: API Gateway answers
// a request lacking a configured identity source with a bare 401 without
// calling the authorizer, and containerd's first, anonymous request needs
// the registry's own 401 with its WWW-Authenticate challenge
// (docs/architecture.md §4). Nil until functions/authorizer is built; the functions
// then fail closed (authz.Enforce finds no decision and answers 401).
func (s *Stack) authorizer() awsapigatewayv2.IHttpRouteAuthorizer {
	fn, ok := s.Functions[route.Authorizer]
	if !ok {
		awscdk.Annotations_Of(s.Stack).AddWarningV2(jsii.String("berth:no-authorizer"),
			jsii.String("dist/authorizer.zip not found: routes deploy without the authorizer, and the functions (BERTH_AUTH on) refuse every request as unauthorized"), nil)
		return nil
	}
	return awsapigatewayv2authorizers.NewHttpLambdaAuthorizer(jsii.String("Authorizer"), fn,
		&awsapigatewayv2authorizers.HttpLambdaAuthorizerProps{
			AuthorizerName:  jsii.String("berth"),
			ResponseTypes:   &[]awsapigatewayv2authorizers.HttpLambdaResponseType{awsapigatewayv2authorizers.HttpLambdaResponseType_SIMPLE},
			IdentitySource:  &[]*string{},
			ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(0)),
		})
}

// awsLoginAudience tells the functions that check AWS IAM logins which
// registry names a login may be signed for (BERTH_STS_AUDIENCE,
// docs/auth.md): behind CloudFront the Host a function sees is the
// API's, not the one clients sign for. Without the front door the
// default (the Host each request came with) is right. The functions need
// no IAM permission for it: sts:GetCallerIdentity is signed by the
// client and needs none.
func (s *Stack) awsLoginAudience(public, api *string) {
	for _, name := range []string{route.Token, route.Authorizer} {
		if fn, ok := s.Functions[name]; ok {
			fn.AddEnvironment(jsii.String("BERTH_STS_AUDIENCE"), awscdk.Fn_Join(jsii.String(","), &[]*string{public, api}), nil)
		}
	}
}

// outputs are what ops need after a deploy: the registry URL, the docker
// login line, the resource names, the tenancy to bootstrap, and the DNS
// target of a custom domain.
// With the CloudFront front door, the URL is the distribution's (or the
// custom domain on it), and ApiUrl names the API behind it.
func (s *Stack) outputs(domain awsapigatewayv2.DomainName) {
	apiHost := awscdk.Fn_Join(jsii.String(""), &[]*string{
		s.API.ApiId(), jsii.String(".execute-api."), s.Region(), jsii.String("."), s.UrlSuffix(),
	})
	host := apiHost
	switch {
	case s.cfg.FrontDoor == FrontDoorCloudFront:
		s.Distribution = s.frontDoor(apiHost)
		host = s.Distribution.DistributionDomainName()
		if s.cfg.DomainName != "" {
			out(s, "DomainTarget", host, "CNAME (or alias) "+s.cfg.DomainName+" to this CloudFront domain")
			host = jsii.String(s.cfg.DomainName)
		}
		out(s, "ApiUrl", jsii.String("https://"+*apiHost), "the HTTP API behind CloudFront (the token realm's host)")
		s.awsLoginAudience(host, apiHost)
	case domain != nil:
		host = jsii.String(s.cfg.DomainName)
		out(s, "DomainTarget", domain.RegionalDomainName(), "CNAME (or alias) "+s.cfg.DomainName+" to this")
	}
	out(s, "RegistryUrl", jsii.String("https://"+*host), "the registry's base URL")
	out(s, "DockerLogin", jsii.String("docker login "+*host), "log docker in to the registry")
	out(s, "TableName", s.Table.TableName(), "metadata table (BERTH_TABLE)")
	out(s, "BucketName", s.Bucket.BucketName(), "blob bucket (BERTH_BUCKET)")
	out(s, "BootstrapTenancy", jsii.String(s.cfg.Tenancy), "the bootstrap tenancy (BERTH_TENANCY): run berth bootstrap with it")
	if s.Key != nil {
		out(s, "SigningKeyArn", s.Key.KeyArn(), "token-signing KMS key (BERTH_SIGNING_KEY_ID)")
	}
}

func out(s *Stack, id string, value *string, desc string) {
	awscdk.NewCfnOutput(s.Stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(desc)})
}
