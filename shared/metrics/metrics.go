// Package metrics writes Berth's metrics as CloudWatch Embedded Metric
// Format (EMF) lines: JSON log lines that CloudWatch Logs turns into
// metrics as it ingests a function's log, so recording a metric costs
// no API call and no latency (docs/metrics.md lists every metric, its
// unit and dimensions; a test holds this package's table to it).
package metrics

import (
	"encoding/json"
	"io"
	"sort"
	"sync"
	"time"
)

// Metric names (docs/metrics.md).
const (
	Requests              = "Requests"
	Errors                = "Errors"
	Latency               = "Latency"
	Pulls                 = "Pulls"
	Pushes                = "Pushes"
	BytesUploaded         = "BytesUploaded"
	AuthorizerDenials     = "AuthorizerDenials"
	RetentionDeletions    = "RetentionDeletions"
	RetentionBreakerTrips = "RetentionBreakerTrips"
	RetentionRunsFinished = "RetentionRunsFinished"
	GCBytesFreed          = "GCBytesFreed"
	StoredBytes           = "StoredBytes"
	EventsPublished       = "EventsPublished"
)

// Units are the EMF units of the metrics, by name: a name not here is
// not a Berth metric, and Emit refuses it.
var Units = map[string]string{
	Requests: "Count", Errors: "Count", Latency: "Milliseconds",
	Pulls: "Count", Pushes: "Count", BytesUploaded: "Bytes",
	AuthorizerDenials:  "Count",
	RetentionDeletions: "Count", RetentionBreakerTrips: "Count", RetentionRunsFinished: "Count",
	GCBytesFreed: "Bytes", StoredBytes: "Bytes",
	EventsPublished: "Count",
}

// Dimensions are the dimension sets each metric is recorded with
// (docs/metrics.md): one set per metric, so each metric is as many
// CloudWatch metrics as its dimensions take values.
var Dimensions = map[string][]string{
	Requests: {"Function", "Route"}, Errors: {"Function", "Route"}, Latency: {"Function", "Route"},
	Pulls: {"Tenancy"}, Pushes: {"Tenancy"}, BytesUploaded: {"Tenancy"},
	AuthorizerDenials:  {"Status"},
	RetentionDeletions: {"Tenancy"}, RetentionBreakerTrips: {}, RetentionRunsFinished: {},
	GCBytesFreed: {}, StoredBytes: {"Tenancy"},
	EventsPublished: {},
}

// Emitter writes EMF lines to one writer (a function's standard
// output, which Lambda sends to its log group).
type Emitter struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	now       func() time.Time
}

// New returns an Emitter writing to w in CloudWatch namespace ns.
func New(w io.Writer, ns string) *Emitter {
	return &Emitter{w: w, namespace: ns, now: time.Now}
}

// Value is one metric's value, with the values of its dimensions (in
// the order Dimensions gives).
type Value struct {
	Name string
	V    float64
	Dims []string
}

// Emit writes one line holding vals: one EMF directive per dimension
// set, dimension values and metric values as the line's properties.
// Values whose dimension values conflict with another's in the same
// line must go in lines of their own. A nil Emitter writes nothing.
func (e *Emitter) Emit(vals ...Value) {
	if e == nil || len(vals) == 0 {
		return
	}
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	type directive struct {
		Namespace  string     `json:"Namespace"`
		Dimensions [][]string `json:"Dimensions"`
		Metrics    []metric   `json:"Metrics"`
	}
	line := map[string]any{}
	byDims := map[string]*directive{}
	var order []string
	for _, v := range vals {
		unit, ok := Units[v.Name]
		if !ok {
			panic("metrics: " + v.Name + " is not a documented metric")
		}
		names := Dimensions[v.Name]
		if len(v.Dims) != len(names) {
			panic("metrics: " + v.Name + " takes dimensions " + joinNames(names))
		}
		for i, n := range names {
			line[n] = v.Dims[i]
		}
		k := joinNames(names)
		d, ok := byDims[k]
		if !ok {
			d = &directive{Namespace: e.namespace, Dimensions: [][]string{append([]string{}, names...)}}
			byDims[k] = d
			order = append(order, k)
		}
		if prev, ok := line[v.Name].(float64); ok {
			line[v.Name] = prev + v.V
		} else {
			line[v.Name] = v.V
			d.Metrics = append(d.Metrics, metric{Name: v.Name, Unit: unit})
		}
	}
	sort.Strings(order)
	ds := make([]directive, 0, len(order))
	for _, k := range order {
		ds = append(ds, *byDims[k])
	}
	line["_aws"] = map[string]any{"Timestamp": e.now().UnixMilli(), "CloudWatchMetrics": ds}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(b, '\n'))
}

// Count emits one metric (retention.Metrics).
func (e *Emitter) Count(name string, v float64, dims ...string) {
	e.Emit(Value{Name: name, V: v, Dims: dims})
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ","
		}
		out += n
	}
	return out
}
