// Package largepush tests pushing images of any size through the local
// gateway with AWS's limits on (a request carries about 4.5 MiB), on the
// embedded backend and on the aws backend (dynalite + gofakes3, as
// integration/aws runs it):
//
//   - an unchanged `docker push` through `berth proxy` of an image with a
//     50 MB and a 300 MB layer, then `docker pull` straight from the
//     gateway and `docker run`, checking the files' sha256;
//   - `berth push` (shared/push) of a generated 1 GB docker-archive,
//     reading the layer back and checking both its digests;
//   - an interrupted push resumes without resending stored parts;
//   - a tampered part ends in DIGEST_INVALID and nothing visible.
//
// Docker comes from scripts/ci-clients.sh (source the env file it
// writes); without it the docker test skips and says so, and with
// CI=true it fails. The aws backend needs dynalite
// (scripts/ci-emulators.sh) and likewise skips or fails.
package largepush
