// Package aws holds the end-to-end tests of the aws backend: the whole
// registry as `berth serve` runs it with BERTH_BACKEND=aws — the local
// gateway enforcing AWS's limits, every function, a DynamoDB table and an
// S3 bucket — against emulators that speak the same wire protocols:
// dynalite for DynamoDB (started by scripts/ci-emulators.sh, or by the
// tests from the npm install that script makes) and gofakes3 in-process
// for S3.
//
// What the emulators do not verify, so these tests cannot catch: request
// signatures (any credentials pass; the presigned URL's fields are
// checked in shared/store/s3store instead), expiry of presigned URLs,
// DynamoDB TTL deletion (the store checks expiry on read, and sweeping
// is tested by moving the clock), S3 lifecycle rules, throttling and
// IAM. LocalStack runs the same tests against its S3 and DynamoDB
// (integration/localstack).
//
// The tests skip when no dynalite can be found, except with CI=true,
// where they fail.
package aws
