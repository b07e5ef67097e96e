package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// chunkBytes is the most record JSON one manifest item holds. A
// manifest's record is small unless the manifest is large (up to the
// spec's 4 MiB: thousands of references or big annotations); then the
// JSON continues in overflow items "<sk>#0001", "<sk>#0002", ... right
// after the main item, and the main item's "n" counts the chunks. With
// the inline body (at most 64 KiB) an item stays under DynamoDB's 400 KB.
const chunkBytes = 300 << 10

// attrChunks is the main item's chunk count, when over 1.
const attrChunks = "n"

// manifestItems are a manifest's items under pk/sk: the main item (the
// record's first chunk, and the body as a binary attribute: raw bytes
// cost less than base64 in JSON), then its overflow items.
func manifestItems(pk, sk string, m store.Manifest) ([]item, error) {
	body := m.Body
	m.Body = nil
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	raw := string(b)
	var items []item
	for i := 0; i == 0 || len(raw) > 0; i++ {
		n := min(len(raw), chunkBytes)
		for n < len(raw) && !utf8.RuneStart(raw[n]) {
			n-- // DynamoDB strings are UTF-8: never split a character
		}
		k := sk
		if i > 0 {
			k = overflowSK(sk, i)
		}
		it := key(pk, k)
		it[attrValue] = str(raw[:n])
		raw = raw[n:]
		items = append(items, it)
	}
	if len(items) > 1 {
		items[0][attrChunks] = num(int64(len(items)))
	}
	if len(body) > 0 {
		items[0][attrBody] = &types.AttributeValueMemberB{Value: body}
	}
	return items, nil
}

func overflowSK(sk string, i int) string { return sk + "#" + fmt.Sprintf("%04d", i) }

// chunks returns a main item's chunk count (1 without overflow).
func chunks(it item) int {
	if n, ok := it[attrChunks].(*types.AttributeValueMemberN); ok {
		c, _ := strconv.Atoi(n.Value)
		return max(c, 1)
	}
	return 1
}

// assembled decodes a main item and its overflow items, in order.
func assembled(main item, overflow []item) (store.Manifest, error) {
	var m store.Manifest
	body, err := joinChunks("manifest", main, overflow, &m)
	if body != nil {
		m.Body = body
	}
	return m, err
}

// joinChunks decodes the JSON a record split over its main item and
// overflow items (see splitRecord) into v, checking that every overflow
// item is there, and returns the binary body the main item carries, if
// any. what names the record in errors.
func joinChunks(what string, main item, overflow []item, v any) ([]byte, error) {
	if want := chunks(main) - 1; len(overflow) != want {
		return nil, fmt.Errorf("%s %s %s: %d of its %d overflow items", what, skOf(main, attrPK), skOf(main, attrSK), len(overflow), want)
	}
	var b strings.Builder
	b.WriteString(skOf(main, attrValue))
	for _, it := range overflow {
		b.WriteString(skOf(it, attrValue))
	}
	if err := json.Unmarshal([]byte(b.String()), v); err != nil {
		return nil, err
	}
	if body, ok := main[attrBody].(*types.AttributeValueMemberB); ok {
		return body.Value, nil
	}
	return nil, nil
}

// writeManifest puts the overflow items first, so a reader never finds a
// main item whose overflow is missing. The main item carries the event
// ctx carries.
func (t *Table) writeManifest(ctx context.Context, pk, sk string, m store.Manifest) error {
	items, err := manifestItems(pk, sk, m)
	if err != nil {
		return err
	}
	withEvent(ctx, items[0])
	for i := len(items) - 1; i >= 0; i-- {
		if err := t.write(ctx, items[i], "", nil, nil); err != nil {
			return fmt.Errorf("manifest %s: %w", m.Digest, err)
		}
	}
	return nil
}

// readManifest reads a manifest's main item, and its overflow items
// with one Query when it has any.
func (t *Table) readManifest(ctx context.Context, pk, sk string) (store.Manifest, error) {
	main, overflow, err := t.readChunked(ctx, pk, sk)
	if err != nil {
		return store.Manifest{}, err
	}
	return assembled(main, overflow)
}

// readChunked reads a record that may continue in overflow items: the
// main item (one GetItem), and its overflow items with one Query when it
// has any.
func (t *Table) readChunked(ctx context.Context, pk, sk string) (item, []item, error) {
	main, err := t.getItem(ctx, pk, sk)
	if err != nil {
		return nil, nil, err
	}
	var overflow []item
	if chunks(main) > 1 {
		err := t.query(ctx, prefixQuery(pk, sk+"#"), 0, func(it item) (bool, error) {
			overflow = append(overflow, it)
			return true, nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return main, overflow, nil
}

// deleteItems deletes the overflow items of a main item with n chunks.
func (t *Table) deleteItems(ctx context.Context, pk, sk string, n int) error {
	for i := 1; i < n; i++ {
		if _, err := t.del(ctx, pk, overflowSK(sk, i)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

func referrerSK(subject, d digest.Digest) string {
	return skReferrer + subject.String() + "#" + d.String()
}

// PutManifest implements store.Manifests. A manifest with a subject is
// written twice: its own items, then the referrer copy that Referrers
// queries. A crash between the two leaves a manifest missing from its
// subject's referrers until the client retries the push (idempotent).
// The manifest's own main item carries the event ctx carries.
func (t *Table) PutManifest(ctx context.Context, m store.Manifest) error {
	pk := repoPK(m.Repo)
	if err := t.writeManifest(ctx, pk, skManifest+m.Digest.String(), m); err != nil {
		return err
	}
	if m.Subject == "" {
		return nil
	}
	return t.writeManifest(store.WithEvent(ctx, nil), pk, referrerSK(m.Subject, m.Digest), m)
}

// GetManifest implements store.Manifests: one GetItem (plus one Query
// for a manifest whose record overflows).
func (t *Table) GetManifest(ctx context.Context, repo string, d digest.Digest) (store.Manifest, error) {
	return t.readManifest(ctx, repoPK(repo), skManifest+d.String())
}

// DeleteManifest implements store.Manifests: the manifest is read (for
// its subject), its items deleted, then the referrer copy's. The main
// item's delete carries the event ctx carries.
func (t *Table) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	pk, sk := repoPK(repo), skManifest+d.String()
	m, err := t.readManifest(ctx, pk, sk)
	if err != nil {
		return err
	}
	old, err := t.delEv(ctx, pk, sk)
	if err != nil {
		return err
	}
	if err := t.deleteItems(ctx, pk, sk, chunks(old)); err != nil {
		return err
	}
	if m.Subject == "" {
		return nil
	}
	rsk := referrerSK(m.Subject, d)
	old, err = t.del(ctx, pk, rsk)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return t.deleteItems(ctx, pk, rsk, chunks(old))
}

// collector assembles manifests from a Query's items, where each main
// item is followed by its overflow items.
type collector struct {
	main     item
	overflow []item
	out      []store.Manifest
}

// continues reports whether it is an overflow item of the manifest in
// progress.
func (c *collector) continues(it item) bool {
	return c.main != nil && strings.HasPrefix(skOf(it, attrSK), skOf(c.main, attrSK)+"#")
}

// add takes the next item: an overflow item of the manifest in progress,
// or the main item of the next (finishing the one before).
func (c *collector) add(it item) error {
	if c.continues(it) {
		c.overflow = append(c.overflow, it)
		return nil
	}
	err := c.flush()
	c.main = it
	return err
}

// flush finishes the manifest in progress.
func (c *collector) flush() error {
	if c.main == nil {
		return nil
	}
	m, err := assembled(c.main, c.overflow)
	c.main, c.overflow = nil, nil
	if err != nil {
		return err
	}
	c.out = append(c.out, m)
	return nil
}

// ListManifests implements store.Manifests: one Query from
// "M#<after>" to the end of the manifests.
func (t *Table) ListManifests(ctx context.Context, repo string, after digest.Digest, limit int) ([]store.Manifest, error) {
	if limit <= 0 {
		return nil, nil
	}
	lo := skManifest + after.String()
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: item{":pk": str(repoPK(repo)), ":lo": str(lo), ":hi": str("M$")},
	}
	var c collector
	err := t.query(ctx, in, limit+1, func(it item) (bool, error) {
		sk := skOf(it, attrSK)
		if after != "" && (sk == lo || strings.HasPrefix(sk, lo+"#")) {
			return true, nil // the manifest named after, and its overflow
		}
		if c.main != nil && !c.continues(it) && len(c.out)+1 == limit {
			return false, nil // the next manifest: the one in hand is the last
		}
		return true, c.add(it)
	})
	if err == nil {
		err = c.flush()
	}
	return c.out, err
}

// Referrers implements store.Manifests with one Query over the
// subject's referrer copies.
func (t *Table) Referrers(ctx context.Context, repo string, d digest.Digest) ([]store.Manifest, error) {
	var c collector
	err := t.query(ctx, prefixQuery(repoPK(repo), skReferrer+d.String()+"#"), 0, func(it item) (bool, error) {
		return true, c.add(it)
	})
	if err == nil {
		err = c.flush()
	}
	return c.out, err
}
