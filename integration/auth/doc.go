// Package auth holds Berth's end-to-end access-control tests: the whole
// registry started in-process with authentication on (the local gateway
// calling the authorizer as API Gateway does, every function behind the
// enforcement middleware), driven over a real 127.0.0.1 listener with
// Basic credentials and with docker's token flow. It has a policy
// matrix, an attack suite, and the OCI conformance suite run with
// credentials. Each test runs once per storage backend (subtests
// "embedded" and "aws": dynalite and gofakes3, as integration/aws
// starts them; without dynalite the aws subtests skip, and fail under
// CI=true). Identities are seeded straight into the store.
package auth
