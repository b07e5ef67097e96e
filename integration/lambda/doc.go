// Package lambda holds end-to-end tests of Lambda mode (docs/lambda-mode.md):
// the registry with every function run as its real bootstrap under the
// Lambda Runtime Interface Emulator, configured from the synthesized
// stack, on dynalite, MinIO (which checks S3 signatures) and local-kms.
// The OCI conformance suite and berth doctor run here; docker
// push/pull/run runs in integration/clients and berth push's direct
// upload in integration/largepush, each also through Lambda mode.
package lambda
