package auth

// FederatedUser is the user part of a keyless login,
// "<tenancy>/oidc": its password is an OIDC ID token that a federation
// rule of the tenancy accepts (docs/keyless.md). No stored user has
// this name.
const FederatedUser = "oidc"

// AWSUser is the user part of an AWS IAM login, "<tenancy>/aws": its
// password is a signed sts:GetCallerIdentity request of a role that an
// AWS role mapping of the tenancy names (docs/auth.md). No stored user
// has this name.
const AWSUser = "aws"

// Keyless reports whether user is a login without a stored user (OIDC
// or AWS IAM): its groups come from the rules it met, and a registry
// token issued to it carries them.
func Keyless(user string) bool { return user == FederatedUser || user == AWSUser }
