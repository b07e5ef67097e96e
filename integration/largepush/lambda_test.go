package largepush

import (
	"testing"

	"github.com/berth-registry/berth/integration/harness"
)

// TestBerthPushOf50MBLayerThroughLambdaMode pushes a 50 MB layer with
// berth push's direct upload through Lambda mode: the uploads function
// (its bootstrap under the runtime emulator, with the stack's memory
// size) presigns the part URLs, MinIO checks their signatures as S3
// would, and the function reads the assembled object back to verify its
// digest before the blob becomes visible.
func TestBerthPushOf50MBLayerThroughLambdaMode(t *testing.T) {
	e := &env{}
	e.host, e.token = harness.StartLambda(t, harness.Wrap(e.record))
	pushAndCheck(t, e, "dev/lambda-big", 50*mb)
	if n := e.count("POST /v2/dev/lambda-big/blobs/uploads/?direct=1"); n != 1 {
		t.Errorf("%d direct uploads were started through the gateway, want 1", n)
	}
	if n := e.count("PATCH /v2/dev/lambda-big/"); n != 0 {
		t.Errorf("%d PATCHes carried the layer through the gateway, want none", n)
	}
}
