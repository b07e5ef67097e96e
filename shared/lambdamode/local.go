package lambdamode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/gateway"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store/dynamo"
	"github.com/berth-registry/berth/shared/store/s3store"
)

// retentionFunction is the hourly function's name (infra/ functions.go).
const retentionFunction = "retention"

// Local is the registry in Lambda mode: the local gateway invoking every
// function through the runtime emulator, the authorizer included.
type Local struct {
	Gateway *gateway.Gateway
	Runner  *Runner
	// AdminToken is the bootstrap admin's auth token (login
	// "<tenancy>/admin").
	AdminToken string
	log        *slog.Logger
}

// NewLocal creates the table and bucket (cfg.Init) and the bootstrap
// admin in them, starts the functions (o's Table and Bucket are cfg's),
// and builds the gateway in front of them with cfg's limits.
func NewLocal(ctx context.Context, cfg config.Config, o Options, log *slog.Logger) (*Local, error) {
	if cfg.Backend != "aws" {
		return nil, errors.New("lambda mode runs the functions on the aws backend (BERTH_BACKEND=aws, as the stack sets it): scripts/run-lambda.sh sets it up")
	}
	if !cfg.Auth {
		return nil, errors.New("lambda mode runs the stack as deployed, authorizer included: BERTH_AUTH=off is not supported")
	}
	table, err := initStores(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	l := &Local{log: log}
	if l.AdminToken, err = app.Bootstrap(ctx, cfg, table); err != nil {
		return nil, err
	}
	o.Table, o.Bucket, o.Log = cfg.Table, cfg.Bucket, log
	if l.Runner, err = Start(ctx, o); err != nil {
		return nil, err
	}
	fns := map[string]gateway.Invoker{}
	for name, p := range l.Runner.Pools {
		fns[name] = p
	}
	authorizer, ok := l.Runner.Pools[route.Authorizer]
	if !ok {
		l.Close()
		return nil, fmt.Errorf("the stack (%s) has no authorizer function", l.Runner.Template)
	}
	limits := gateway.NoLimits()
	if cfg.Limits {
		limits = gateway.AWSLimits()
	}
	l.Gateway = gateway.New(fns, limits, log)
	l.Gateway.Authorizer = authorizer
	return l, nil
}

// Schedule invokes the retention function every period with the event
// the stack's EventBridge rule sends (events/retention-scheduled.json),
// until ctx ends.
func (l *Local) Schedule(ctx context.Context, every time.Duration) {
	p, ok := l.Runner.Pools[retentionFunction]
	if !ok {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ev, _ := json.Marshal(map[string]any{
				"version": "0", "id": fmt.Sprintf("local-%d", now.Unix()), "detail-type": "Scheduled Event",
				"source": "aws.events", "account": "000000000000", "time": now.UTC().Format(time.RFC3339),
				"region": "local", "resources": []string{"arn:aws:events:local:000000000000:rule/RetentionSchedule"},
				"detail": map[string]any{},
			})
			if _, err := p.Invoke(ctx, ev); err != nil && ctx.Err() == nil {
				l.log.Error("scheduled retention run failed", "error", err.Error())
			}
		}
	}
}

// Close stops the functions.
func (l *Local) Close() error { return l.Runner.Close() }

// initStores creates the table and bucket when cfg.Init is set, as the
// stack creates them, and returns the table, where the bootstrap admin
// goes. It talks to o's emulators with o's credentials, as the functions
// do, not through this process's environment.
func initStores(ctx context.Context, cfg config.Config, o Options) (*dynamo.Table, error) {
	creds := credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")
	table := dynamo.New(dynamodb.New(dynamodb.Options{Region: o.Region, BaseEndpoint: aws.String(o.Endpoints.DynamoDB), Credentials: creds}), cfg.Table)
	if !cfg.Init {
		return table, nil
	}
	if err := table.CreateTable(ctx); err != nil {
		return nil, err
	}
	blobs := s3store.New(s3.New(s3.Options{Region: o.Region, BaseEndpoint: aws.String(o.Endpoints.S3), Credentials: creds, UsePathStyle: true}), cfg.Bucket)
	return table, blobs.CreateBucket(ctx)
}
