package lambdamode

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Function is one Lambda function as the synthesized stack configures
// it: its name (the functions/<name> directory), its environment with
// every CloudFormation reference resolved to a local value, its memory
// size and its timeout.
type Function struct {
	Name     string
	Env      map[string]string
	MemoryMB int
	Timeout  time.Duration
}

// Locals are the local stand-ins for the stack's resources that the
// functions' environments reference.
type Locals struct {
	// Table and Bucket replace Ref to the DynamoDB table and S3 bucket.
	Table, Bucket string
	// KeyARN replaces a KMS key's Arn (and Ref) by the key's spec (its
	// KeySpec: "ECC_NIST_P256" for the token-signing key, "" for the
	// symmetric one that seals pull-through credentials); it is asked
	// for only when some function's environment names the key.
	KeyARN func(spec string) (string, error)
	// EventBus replaces Ref to the EventBridge bus (the events
	// function's; Lambda mode has no stream to invoke it with);
	// "berth-local" when empty.
	EventBus string
}

// template is the part of a CloudFormation template Lambda mode reads.
type template struct {
	Resources map[string]struct {
		Type       string
		Properties json.RawMessage
	}
}

type functionProps struct {
	Description string
	MemorySize  int
	Timeout     int
	Handler     string
	Environment struct {
		Variables map[string]json.RawMessage
	}
}

// functionPrefix begins every function's Description in infra/ ("Berth
// uploads"); the rest is the function's name.
const functionPrefix = "Berth "

// ReadTemplate reads the functions of a synthesized stack template
// (infra/cdk.out/<stack>.template.json) and resolves their environments
// with locals. A reference it cannot resolve is an error, so a stack
// that starts giving a function something new fails here, not later in
// the function.
func ReadTemplate(path string, locals Locals) ([]Function, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	names := map[string]string{} // logical id → function name
	props := map[string]functionProps{}
	for id, r := range t.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		var p functionProps
		if err := json.Unmarshal(r.Properties, &p); err != nil {
			return nil, fmt.Errorf("%s: function %s: %w", path, id, err)
		}
		name, ok := strings.CutPrefix(p.Description, functionPrefix)
		if !ok || p.Handler != "bootstrap" {
			continue // not one of ours (the CloudFront edge function, for one)
		}
		names[id], props[id] = name, p
	}
	var fns []Function
	for id, p := range props {
		f := Function{Name: names[id], Env: map[string]string{}, MemoryMB: p.MemorySize, Timeout: time.Duration(p.Timeout) * time.Second}
		if f.MemoryMB == 0 {
			f.MemoryMB = 128 // CloudFormation's default
		}
		if f.Timeout == 0 {
			f.Timeout = 3 * time.Second
		}
		for k, raw := range p.Environment.Variables {
			v, err := t.resolve(raw, names, locals)
			if err != nil {
				return nil, fmt.Errorf("%s: function %s: %s: %w", path, f.Name, k, err)
			}
			f.Env[k] = v
		}
		fns = append(fns, f)
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("%s has no Berth functions", path)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	return fns, nil
}

// resolve turns one environment value into a string: a literal as it
// is, a Ref or Fn::GetAtt Arn of a resource Lambda mode stands in for
// as its local value.
func (t template) resolve(raw json.RawMessage, functions map[string]string, locals Locals) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var ref struct {
		Ref    string
		GetAtt []string `json:"Fn::GetAtt"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		return "", fmt.Errorf("value %s is neither a string nor a reference", raw)
	}
	id, attr := ref.Ref, ""
	if len(ref.GetAtt) == 2 {
		id, attr = ref.GetAtt[0], ref.GetAtt[1]
	}
	r, ok := t.Resources[id]
	if id == "" || !ok {
		return "", fmt.Errorf("value %s refers to no resource of the template", raw)
	}
	switch {
	case r.Type == "AWS::DynamoDB::Table" && attr == "":
		return locals.Table, nil
	case r.Type == "AWS::S3::Bucket" && attr == "":
		return locals.Bucket, nil
	case r.Type == "AWS::KMS::Key" && (attr == "" || attr == "Arn") && locals.KeyARN != nil:
		var key struct{ KeySpec string }
		_ = json.Unmarshal(r.Properties, &key)
		return locals.KeyARN(key.KeySpec)
	case r.Type == "AWS::Events::EventBus" && attr == "":
		if locals.EventBus == "" {
			return "berth-local", nil
		}
		return locals.EventBus, nil
	case r.Type == "AWS::Lambda::Function" && attr == "" && functions[id] != "":
		// Lambda mode's invoke API (AWS_ENDPOINT_URL_LAMBDA) knows the
		// functions by their names.
		return functions[id], nil
	}
	return "", fmt.Errorf("no local value in Lambda mode for %s (a %s)", raw, r.Type)
}
