package auth

// FederatedUser is the user part of a keyless login,
// "<tenancy>/oidc": its password is an OIDC ID token that a federation
// rule of the tenancy accepts (docs/keyless.md). No stored user has
// this name.
const FederatedUser = "oidc"
