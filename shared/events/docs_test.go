package events

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// dataOf is the data type of each event type.
var dataOf = map[string]func() any{
	ManifestPushed: func() any { return &ManifestPushedData{} }, TagMoved: func() any { return &TagMovedData{} },
	TagDeleted: func() any { return &TagDeletedData{} }, ImageDeleted: func() any { return &ImageDeletedData{} },
	ImageRestored: func() any { return &ImageRestoredData{} }, RepositoryCreated: func() any { return &RepositoryData{} },
	RepositoryDeleted: func() any { return &RepositoryDeletedData{} }, RepositoryVisibilityChange: func() any { return &RepositoryData{} },
	PolicyChanged: func() any { return &PolicyData{} }, RetentionPolicyChanged: func() any { return &RetentionPolicyData{} },
	RetentionRunFinished: func() any { return &RunFinishedData{} }, LoginsRefused: func() any { return &LoginsRefusedData{} },
}

// TestEveryTypeIsDocumentedWithAnExample: docs/events.md has a section
// per type whose example decodes, field for field, into the schema.
func TestEveryTypeIsDocumentedWithAnExample(t *testing.T) {
	raw, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]string{}
	section := ""
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		if h, ok := strings.CutPrefix(lines[i], "### "); ok {
			section = h
		}
		if lines[i] == "```json" && section != "" {
			var b strings.Builder
			for i++; i < len(lines) && lines[i] != "```"; i++ {
				b.WriteString(lines[i] + "\n")
			}
			if _, dup := examples[section]; !dup {
				examples[section] = b.String()
			}
		}
	}
	if len(dataOf) != len(Types) {
		t.Fatalf("dataOf knows %d types, Types lists %d", len(dataOf), len(Types))
	}
	for _, typ := range Types {
		ex, ok := examples[typ]
		if !ok {
			t.Errorf("docs/events.md has no example under \"### %s\"", typ)
			continue
		}
		var ev Event
		dec := json.NewDecoder(strings.NewReader(ex))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Errorf("%s example: %v", typ, err)
			continue
		}
		if ev.Type != typ || ev.Version != Version || ev.ID == "" || ev.Tenancy == "" || ev.Time.IsZero() || ev.Actor.Type == "" {
			t.Errorf("%s example's envelope: %+v", typ, ev)
		}
		d := json.NewDecoder(bytes.NewReader(ev.Data))
		d.DisallowUnknownFields()
		if err := d.Decode(dataOf[typ]()); err != nil {
			t.Errorf("%s example's data: %v", typ, err)
		}
	}
}
