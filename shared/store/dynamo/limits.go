package dynamo

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/berth-registry/berth/shared/store"
)

// DynamoDB's limits on what a request may carry (Developer Guide,
// "Service, account, and table quotas": partition key values up to
// 2,048 bytes, sort key values up to 1,024, items up to 400 KB).
// DynamoDB answers a request over them with a ValidationException, so an
// unchecked client value becomes a 500; dynalite checks the keys of
// items but not the values in a Query's key condition. The registry
// validates every client value first (oci, auth); this is the backstop,
// for every request the store sends, so no such request is sent at all.
const (
	maxPartitionKey = 2048
	maxSortKey      = 1024
	maxItem         = 400 << 10
)

// limitsOption installs checkLimits on a client's requests.
func limitsOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("berth.KeyLimits",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if out, err := checkLimits(in.Parameters); out != nil || err != nil {
				return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// checkLimits returns an error for a request over the limits (wrapping
// store.ErrInvalid, and store.ErrNotFound for a read or delete of a key
// no item can have), or the answer it would get without sending it (an
// empty page for a Query of a partition no item can be in), or neither.
func checkLimits(params any) (any, error) {
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		if err := keyOver(in.Key); err != nil {
			return nil, fmt.Errorf("%w: %w", store.ErrNotFound, err)
		}
	case *dynamodb.DeleteItemInput:
		if err := keyOver(in.Key); err != nil {
			return nil, fmt.Errorf("%w: %w", store.ErrNotFound, err)
		}
	case *dynamodb.UpdateItemInput:
		return nil, keyOver(in.Key)
	case *dynamodb.PutItemInput:
		return nil, itemOver(in.Item)
	case *dynamodb.BatchWriteItemInput:
		for _, reqs := range in.RequestItems {
			for _, r := range reqs {
				if r.PutRequest != nil {
					if err := itemOver(r.PutRequest.Item); err != nil {
						return nil, err
					}
				}
				if r.DeleteRequest != nil {
					if err := keyOver(r.DeleteRequest.Key); err != nil {
						return nil, err
					}
				}
			}
		}
	case *dynamodb.QueryInput:
		return queryOver(in)
	}
	return nil, nil
}

func keyOver(k map[string]types.AttributeValue) error {
	pk, sk := skOf(k, attrPK), skOf(k, attrSK)
	switch {
	case len(pk) > maxPartitionKey:
		return fmt.Errorf("a partition key of %d bytes (at most %d): %w", len(pk), maxPartitionKey, store.ErrInvalid)
	case len(sk) > maxSortKey:
		return fmt.Errorf("a sort key of %d bytes (at most %d): %w", len(sk), maxSortKey, store.ErrInvalid)
	}
	return nil
}

func itemOver(it map[string]types.AttributeValue) error {
	if err := keyOver(it); err != nil {
		return err
	}
	if n := itemSize(it); n > maxItem {
		return fmt.Errorf("an item of about %d bytes (at most %d): %w", n, maxItem, store.ErrInvalid)
	}
	return nil
}

// itemSize is an item's size as DynamoDB counts it (names plus values),
// for the attribute types the store writes; numbers counted as written.
func itemSize(it map[string]types.AttributeValue) int {
	n := 0
	for name, v := range it {
		n += len(name)
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(x.Value)
		case *types.AttributeValueMemberB:
			n += len(x.Value)
		case *types.AttributeValueMemberN:
			n += len(x.Value)
		default:
			n++
		}
	}
	return n
}

// pkPlaceholder returns the value a key condition compares the
// partition key with ("pk = :pk"; "" if none): the first match of
// `\bpk\s*=\s*(:\w+)`. It and placeholders scan by hand rather than with
// regular expressions, which every function would compile at start.
func pkPlaceholder(cond string) string {
	for i := 0; ; i++ {
		j := strings.Index(cond[i:], "pk")
		if j < 0 {
			return ""
		}
		i += j
		if i > 0 && isWordByte(cond[i-1]) {
			continue
		}
		rest, ok := strings.CutPrefix(strings.TrimLeft(cond[i+2:], reSpace), "=")
		if !ok {
			continue
		}
		rest = strings.TrimLeft(rest, reSpace)
		if n := wordLen(rest, 1); n > 0 && rest[0] == ':' {
			return rest[:1+n]
		}
	}
}

// placeholders returns the values a key condition names: the matches of
// `:\w+`.
func placeholders(cond string) []string {
	var names []string
	for i := 0; i < len(cond); i++ {
		if cond[i] != ':' {
			continue
		}
		if n := wordLen(cond, i+1); n > 0 {
			names = append(names, cond[i:i+1+n])
			i += n
		}
	}
	return names
}

// reSpace is what `\s` matches in Go's regular expressions.
const reSpace = " \t\n\f\r"

// wordLen is the number of word bytes (`\w`) in s from i on.
func wordLen(s string, i int) int {
	n := 0
	for i+n < len(s) && isWordByte(s[i+n]) {
		n++
	}
	return n
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// queryOver checks a Query's key condition: a partition key no item can
// have is an empty page; a sort key bound over the limit is refused.
func queryOver(in *dynamodb.QueryInput) (any, error) {
	if in.KeyConditionExpression == nil {
		return nil, nil
	}
	cond := *in.KeyConditionExpression
	pk := pkPlaceholder(cond)
	for _, name := range placeholders(cond) {
		s, ok := in.ExpressionAttributeValues[name].(*types.AttributeValueMemberS)
		if !ok {
			continue
		}
		switch {
		case name == pk && len(s.Value) > maxPartitionKey:
			return &dynamodb.QueryOutput{}, nil
		case name != pk && len(s.Value) > maxSortKey:
			return nil, fmt.Errorf("a sort key bound of %d bytes (at most %d): %w", len(s.Value), maxSortKey, store.ErrInvalid)
		}
	}
	return nil, nil
}
