package main

import (
	"github.com/berth-registry/berth/shared/route"

	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StackProps are the CloudFormation stack's props and Berth's settings.
type StackProps struct {
	awscdk.StackProps
	Config Config
}

// Stack is the whole registry: the HTTP API and its functions, the
// metadata table, the blob bucket, the token-signing key and the hourly
// retention schedule.
type Stack struct {
	awscdk.Stack
	cfg Config

	Table  awsdynamodb.Table
	Bucket awss3.Bucket
	// Key signs registry tokens (nil if no deployed function uses it).
	Key awskms.Key
	// CacheKey seals pull-through cache rules' upstream credentials (nil
	// if no deployed function uses it).
	CacheKey awskms.Key
	// Functions are the deployed functions by name.
	Functions map[string]awslambda.Function
	API       awsapigatewayv2.HttpApi
	Stage     awsapigatewayv2.HttpStage
	// Distribution is the CloudFront front door (nil unless
	// Config.FrontDoor is FrontDoorCloudFront).
	Distribution awscloudfront.Distribution
	// Bus is the event bus (docs/events.md); EventsDLQ keeps the
	// stream batches the events function gave up on.
	Bus       awsevents.EventBus
	EventsDLQ awssqs.Queue
	// Dashboard and Alarms watch the registry (docs/metrics.md).
	Dashboard awscloudwatch.Dashboard
	Alarms    []awscloudwatch.Alarm

	fns         []function // the functions deployed, in functionTable order
	deadLetters []awssqs.Queue
}

// tableIndexes are the table's global secondary indexes; adding one here
// is all the stack needs (grants on the table then cover its indexes).
var tableIndexes = []awsdynamodb.GlobalSecondaryIndexProps{}

// NewStack builds the stack, or says why it cannot (a function zip
// missing, a route naming an unknown function, invalid settings).
func NewStack(scope constructs.Construct, id string, props *StackProps) (*Stack, error) {
	if err := props.Config.Validate(); err != nil {
		return nil, err
	}
	fns, err := deployedFunctions(props.Config.DistDir)
	if err != nil {
		return nil, err
	}
	sp := props.StackProps
	if props.Config.FrontDoor == FrontDoorCloudFront {
		if sp.Env, err = frontDoorEnv(props.Config, sp.Env); err != nil {
			return nil, err
		}
	}
	s := &Stack{
		Stack:     awscdk.NewStack(scope, &id, &sp),
		cfg:       props.Config,
		Functions: map[string]awslambda.Function{},
		fns:       fns,
	}
	s.table()
	s.bucket()
	s.signingKey()
	s.eventBus()
	s.cacheKey()
	s.functions()
	if err := s.api(); err != nil {
		return nil, err
	}
	s.schedule()
	s.publishEvents()
	s.webhook()
	s.monitoring()
	return s, nil
}

// deployedFunctions selects the functions to deploy: every registry
// function (its zip must exist) and each later one whose zip exists.
func deployedFunctions(dist string) ([]function, error) {
	var out []function
	for _, f := range functionTable() {
		_, err := os.Stat(zipPath(dist, f.Name))
		switch {
		case err == nil:
			out = append(out, f)
		case f.Later && os.IsNotExist(err):
		default:
			return nil, fmt.Errorf("function %s: %w (run `make build` first)", f.Name, err)
		}
	}
	return out, nil
}

func zipPath(dist, name string) string { return filepath.Join(dist, name+".zip") }

// table is the metadata table (single-table design, shared/store): on
// demand, point-in-time recovery, TTL on "ttl" (epoch seconds) for
// abandoned upload sessions, kept when the stack is deleted.
func (s *Stack) table() {
	s.Table = awsdynamodb.NewTable(s.Stack, jsii.String("MetadataTable"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String("ttl"),
		// The events function publishes what rides the writes
		// (docs/events.md); old images finish a moved tag's event.
		Stream: awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	for i := range tableIndexes {
		s.Table.AddGlobalSecondaryIndex(&tableIndexes[i])
	}
}

// abortMultipartDays is how long S3 keeps an incomplete multipart upload
// (counted from its start).
const abortMultipartDays = 2

// bucket holds blobs, large manifests and upload tails. SSE-S3 rather
// than SSE-KMS: pulls are presigned GETs, and with KMS every layer
// download would also be a KMS Decrypt call (request quotas and cost at
// pull volume) that each signing role must be granted; SSE-S3 encrypts at
// rest with no such coupling. No versioning: objects are immutable by
// digest, and versions would keep what garbage collection deletes.
func (s *Stack) bucket() {
	s.Bucket = awss3.NewBucket(s.Stack, jsii.String("BlobBucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{
			{
				// Multipart uploads belong to upload sessions, which live
				// 24 h after their last request (registry.Config
				// UploadTTL): a day's margin past that.
				Id:                                  jsii.String("abort-incomplete-multipart"),
				AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(abortMultipartDays)),
			},
			{
				// Upload tails live only between the requests of one
				// chunked upload; sessions expire well before this.
				Id:         jsii.String("expire-upload-tails"),
				Prefix:     jsii.String(uploadsPrefix),
				Expiration: awscdk.Duration_Days(jsii.Number(2)),
			},
		},
	})
}

// signingKey is the token-signing key: a KMS asymmetric P-256 key (JWT
// ES256). The private key never leaves KMS, so only the token function,
// granted kms:Sign, can mint tokens, and every signature is in
// CloudTrail; the authorizer verifies locally with the public key
// (kms:GetPublicKey, cached across warm invocations), so verifying costs
// no KMS call per request. An HMAC secret (Secrets Manager, SSM) would
// hand the signing secret to every verifier. Tokens are short-lived, so
// the key holds nothing worth keeping after the stack is gone.
func (s *Stack) signingKey() {
	for _, f := range s.fns {
		if f.usesKey() {
			s.Key = awskms.NewKey(s.Stack, jsii.String("TokenSigningKey"), &awskms.KeyProps{
				Description:   jsii.String("Berth token signing (ES256)"),
				KeySpec:       awskms.KeySpec_ECC_NIST_P256,
				KeyUsage:      awskms.KeyUsage_SIGN_VERIFY,
				PendingWindow: awscdk.Duration_Days(jsii.Number(7)),
				RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
			})
			return
		}
	}
}

// cacheKey is the key that seals pull-through cache rules' upstream
// credentials (shared/pullthrough): a symmetric KMS key, each secret
// encrypted bound to its rule (encryption context), sealed by the admin
// function (kms:Encrypt) and opened only by the functions that fetch
// from upstreams (kms:Decrypt), every use in CloudTrail. Retained with
// the table that holds the ciphertexts, and rotated yearly.
func (s *Stack) cacheKey() {
	for _, f := range s.fns {
		if f.has(onCacheKey) {
			s.CacheKey = awskms.NewKey(s.Stack, jsii.String("CacheCredentialsKey"), &awskms.KeyProps{
				Description:       jsii.String("Berth pull-through cache upstream credentials"),
				EnableKeyRotation: jsii.Bool(true),
				RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
			})
			return
		}
	}
}

// functions creates one Lambda per deployed function: arm64,
// provided.al2023, the zip from dist/, its own log group and a role
// holding exactly its grants. Grants on the function itself go into a
// policy of their own, created after the function: in the role's default
// policy, which the function depends on, its ARN would be a cycle.
func (s *Stack) functions() {
	for _, f := range s.fns {
		id := f.logicalName()
		logs := awslogs.NewLogGroup(s.Stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
			Retention:     retentionDays[s.cfg.LogRetentionDays],
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		role := awsiam.NewRole(s.Stack, jsii.String(id+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String("Berth " + f.Name + " function"),
		})
		logs.GrantWrite(role)
		others, self := f.splitSelf()
		for _, st := range s.statements(others, nil) {
			role.AddToPrincipalPolicy(st)
		}
		memory := f.Memory
		if mb, ok := s.cfg.Memory[f.Name]; ok {
			memory = mb
		}
		props := &awslambda.FunctionProps{
			Description:  jsii.String("Berth " + f.Name),
			Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
			Architecture: awslambda.Architecture_ARM_64(),
			Handler:      jsii.String("bootstrap"),
			Code:         awslambda.Code_FromAsset(jsii.String(zipPath(s.cfg.DistDir, f.Name)), nil),
			MemorySize:   jsii.Number(memory),
			Timeout:      awscdk.Duration_Seconds(jsii.Number(f.Timeout.Seconds())),
			Environment:  s.environment(f),
			Role:         role,
			LogGroup:     logs,
		}
		if f.Name == fnRetention {
			// Bounds the fan-out: at most this many repository jobs
			// (and the hourly run) at once; the rest wait in Lambda's
			// async queue.
			props.ReservedConcurrentExecutions = jsii.Number(float64(s.cfg.RetentionConcurrency))
		}
		fn := awslambda.NewFunction(s.Stack, jsii.String(id+"Function"), props)
		s.Functions[f.Name] = fn
		if len(self) > 0 {
			sts := s.statements(self, fn.FunctionArn())
			awsiam.NewPolicy(s.Stack, jsii.String(id+"SelfPolicy"), &awsiam.PolicyProps{
				Roles:      &[]awsiam.IRole{role},
				Statements: &sts,
			})
		}
	}
	s.handRunsToRetention()
	s.handFillsTo()
}

// handFillsTo lets the functions that serve blob GETs hand pull-through
// fills to the fill function (BERTH_FILL_FUNCTION, read by shared/app):
// lambda:InvokeFunction on that one function, in a policy of its own
// per caller (made once every function exists).
func (s *Stack) handFillsTo() {
	fill, ok := s.Functions[fnFill]
	if !ok {
		return
	}
	for _, f := range s.fns {
		if !f.has(onFill) {
			continue
		}
		fn := s.Functions[f.Name]
		fn.AddEnvironment(jsii.String("BERTH_FILL_FUNCTION"), fill.FunctionName(), nil)
		awsiam.NewPolicy(s.Stack, jsii.String(f.logicalName()+"InvokesFillPolicy"), &awsiam.PolicyProps{
			Roles: &[]awsiam.IRole{fn.Role()},
			Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings(invokeFill.Actions...),
				Resources: &[]*string{fill.FunctionArn()},
			})},
		})
	}
}

// handRunsToRetention lets the admin function hand retention runs started
// through the API to the retention function (BERTH_RETENTION_FUNCTION,
// read by shared/app): a run then fans out as the hourly one does,
// instead of running inside one API request's 30 seconds. The grant is
// lambda:InvokeFunction on that one function, in a policy of its own.
func (s *Stack) handRunsToRetention() {
	adm, ok1 := s.Functions[route.Admin]
	ret, ok2 := s.Functions[fnRetention]
	if !ok1 || !ok2 {
		return
	}
	adm.AddEnvironment(jsii.String("BERTH_RETENTION_FUNCTION"), ret.FunctionName(), nil)
	awsiam.NewPolicy(s.Stack, jsii.String("AdminInvokesRetentionPolicy"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{adm.Role()},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("lambda:InvokeFunction"),
			Resources: &[]*string{ret.FunctionArn()},
		})},
	})
}

// environment is the contract shared/config (and, for the functions
// that apply retention, retention.ConfigFromEnv) reads.
// BERTH_TEST_CLOCK is never set: a movable clock is for tests only.
func (s *Stack) environment(f function) *map[string]*string {
	env := map[string]*string{
		"BERTH_BACKEND":     jsii.String("aws"),
		"BERTH_TABLE":       s.Table.TableName(),
		"BERTH_BUCKET":      s.Bucket.BucketName(),
		"BERTH_LIMITS":      jsii.String("aws"),
		"BERTH_PRESIGN_TTL": jsii.String(s.cfg.PresignTTL),
		"BERTH_LOG_LEVEL":   jsii.String(s.cfg.LogLevel),
		// Metrics are EMF lines in the log (docs/metrics.md).
		"BERTH_METRICS_NAMESPACE": jsii.String(s.metricsNamespace()),
	}
	if f.Name == fnEvents {
		env["BERTH_EVENT_BUS"] = s.Bus.EventBusName()
	}
	if f.usesKey() {
		env["BERTH_SIGNING_KEY_ID"] = s.Key.KeyArn()
	}
	if f.has(onCacheKey) {
		env["BERTH_CACHE_KEY_ID"] = s.CacheKey.KeyArn()
	}
	if f.Tenancy {
		env["BERTH_TENANCY"] = jsii.String(s.cfg.Tenancy)
	}
	if f.Retention {
		for k, v := range s.cfg.retentionEnv() {
			env[k] = jsii.String(v)
		}
	}
	return &env
}

// statements turns grants into IAM statements, one per set of actions,
// each scoped to the table, bucket prefixes or key it names, or to self
// (the function's ARN) for grants on the function itself.
func (s *Stack) statements(gs []grant, self *string) []awsiam.PolicyStatement {
	byActions := map[string][]*string{}
	var order []string
	for _, g := range mergeGrants(gs) {
		k := strings.Join(g.Actions, ",")
		if _, ok := byActions[k]; !ok {
			order = append(order, k)
		}
		byActions[k] = append(byActions[k], s.resources(g, self)...)
	}
	out := make([]awsiam.PolicyStatement, 0, len(order))
	for _, k := range order {
		resources := byActions[k]
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(strings.Split(k, ",")...),
			Resources: &resources,
		}))
	}
	return out
}

func (s *Stack) resources(g grant, self *string) []*string {
	switch g.On {
	case onTable:
		rs := []*string{s.Table.TableArn()}
		if len(tableIndexes) > 0 {
			rs = append(rs, jsii.String(*s.Table.TableArn()+"/index/*"))
		}
		return rs
	case onObjects:
		return []*string{s.Bucket.ArnForObjects(jsii.String(g.Prefix + "*"))}
	case onSelf:
		return []*string{self}
	case onStream:
		return []*string{s.Table.TableStreamArn()}
	case onBus:
		return []*string{s.Bus.EventBusArn()}
	case onCacheKey:
		return []*string{s.CacheKey.KeyArn()}
	default:
		return []*string{s.Key.KeyArn()}
	}
}

// schedule runs the retention function hourly (docs/architecture.md §5), once it
// exists. The target passes EventBridge's scheduled event as it is
// (events/retention-scheduled.json): retention.Handle recognizes it by
// its detail-type, so the target must not replace the input.
func (s *Stack) schedule() {
	fn, ok := s.Functions[fnRetention]
	if !ok {
		return
	}
	awsevents.NewRule(s.Stack, jsii.String("RetentionSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Berth: apply retention policies, then collect garbage"),
		Schedule:    awsevents.Schedule_Expression(jsii.String("rate(1 hour)")),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(2),
			MaxEventAge:   awscdk.Duration_Hours(jsii.Number(1)),
		})},
	})
}

// retentionDays maps days to CloudWatch Logs' retention periods.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS,
	5: awslogs.RetentionDays_FIVE_DAYS, 7: awslogs.RetentionDays_ONE_WEEK,
	14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS,
	120: awslogs.RetentionDays_FOUR_MONTHS, 150: awslogs.RetentionDays_FIVE_MONTHS,
	180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS,
	731: awslogs.RetentionDays_TWO_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}
