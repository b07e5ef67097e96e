package dynamo

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// attempts counts the attempts the SDK makes for one call into *n. The
// SDK's retryer sends a request again after a failure it cannot tell
// from a lost answer (a timeout, a broken connection, an answer whose
// CRC32 does not match — seen from dynalite under load), so a
// conditional write that took effect on its first attempt can fail its
// condition on the second, or return its own first write as the "old"
// item. Callers whose next step depends on that answer check *n > 1.
func attempts(n *int) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Insert(middleware.FinalizeMiddlewareFunc("BerthAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					*n++
					return next.HandleFinalize(ctx, in)
				}), "Retry", middleware.After)
		})
	}
}

// storedChunks is, after an ambiguous write or delete of the main item
// at pk/sk, the chunk count to clean up after: one more than the highest
// overflow item still stored (1 when there is none). One Query, only on
// that rare path.
func (t *Table) storedChunks(ctx context.Context, pk, sk string) (int, error) {
	n := 1
	err := t.query(ctx, prefixQuery(pk, sk+"#"), 0, func(it item) (bool, error) {
		if i, err := strconv.Atoi(strings.TrimPrefix(skOf(it, attrSK), sk+"#")); err == nil {
			n = max(n, i+1)
		}
		return true, nil
	})
	return n, err
}

// ambiguousOld stands for the old item of a write or delete whose answer
// was ambiguous: it carries only the chunk count still stored.
func (t *Table) ambiguousOld(ctx context.Context, pk, sk string) (item, error) {
	n, err := t.storedChunks(ctx, pk, sk)
	if err != nil {
		return nil, err
	}
	return item{attrChunks: num(int64(n))}, nil
}
