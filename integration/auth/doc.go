// Package auth holds Berth's end-to-end access-control tests: the whole
// registry started in-process with authentication on (the local gateway
// calling the authorizer as API Gateway does, every function behind the
// enforcement middleware, embedded storage), driven over a real
// 127.0.0.1 listener with Basic credentials and with docker's token flow.
// It has a policy matrix, an attack suite, and the OCI conformance suite
// run with credentials. Identities are seeded straight into the store.
package auth
