package metrics

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Sample is one metric value read back from an EMF line.
type Sample struct {
	Namespace string
	Name      string
	Unit      string
	Value     float64
	// Dims are the dimension values by dimension name.
	Dims map[string]string
}

// Parse reads an EMF line as CloudWatch would, and checks it against
// the specification and Berth's table: the _aws envelope with a
// millisecond timestamp, every directive's dimensions present as string
// properties and its metrics as numeric ones, and each metric a
// documented one, with its documented unit and dimension set.
func Parse(line []byte) ([]Sample, error) {
	var props map[string]json.RawMessage
	if err := json.Unmarshal(line, &props); err != nil {
		return nil, err
	}
	var env struct {
		Timestamp         *int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	if err := json.Unmarshal(props["_aws"], &env); err != nil || env.Timestamp == nil || len(env.CloudWatchMetrics) == 0 {
		return nil, fmt.Errorf("no _aws envelope with a Timestamp and CloudWatchMetrics (%v)", err)
	}
	var out []Sample
	for _, d := range env.CloudWatchMetrics {
		if d.Namespace == "" || len(d.Dimensions) != 1 || len(d.Metrics) == 0 {
			return nil, fmt.Errorf("directive %+v: want a namespace, one dimension set, metrics", d)
		}
		dims := map[string]string{}
		for _, n := range d.Dimensions[0] {
			var v string
			if err := json.Unmarshal(props[n], &v); err != nil {
				return nil, fmt.Errorf("dimension %s is not a string property", n)
			}
			dims[n] = v
		}
		for _, m := range d.Metrics {
			var v float64
			if err := json.Unmarshal(props[m.Name], &v); err != nil {
				return nil, fmt.Errorf("metric %s is not a numeric property", m.Name)
			}
			if Units[m.Name] != m.Unit {
				return nil, fmt.Errorf("metric %s with unit %q: documented unit %q", m.Name, m.Unit, Units[m.Name])
			}
			if !slices.Equal(Dimensions[m.Name], d.Dimensions[0]) {
				return nil, fmt.Errorf("metric %s with dimensions %v: documented %v", m.Name, d.Dimensions[0], Dimensions[m.Name])
			}
			out = append(out, Sample{Namespace: d.Namespace, Name: m.Name, Unit: m.Unit, Value: v, Dims: dims})
		}
	}
	return out, nil
}
