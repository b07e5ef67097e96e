// Package boundary feeds boundary and over-limit values — empty, the
// longest the registry's grammar allows, one byte more, 5,000 bytes,
// non-ASCII, NUL — into every value a client controls (repository
// names, tags, digests, upload ids, part lists, query cursors, Basic
// logins, token ids, tenancy, user, group and policy names), through
// every route of the route table, /token, the admin API and the
// retention API, on the embedded and the aws backend (dynalite and
// gofakes3) side by side.
//
// Each probe must be answered below 500, with no storage or SDK text in
// the answer, with a WWW-Authenticate challenge that parses to exactly
// realm, service and (for a valid name only) scope, and with the same
// status and error code on both backends. DynamoDB refuses partition
// keys over 2,048 bytes, sort keys over 1,024 and items over 400 KB, so
// a value that reaches the table unchecked shows up here as a 500 on
// the aws backend only.
package boundary
