package lambdahttp

import (
	"bytes"
	"context"
	"encoding/json"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
)

// Invoke makes a HandlerFunc a lambda.Handler: the runtime hands it the
// event's JSON and takes the response's. aws-lambda-go would decode the
// event with encoding/json, which scans and unquotes the body string at
// about 140 MB/s: two thirds of the CPU of a 1 MiB chunk's PATCH, and a
// 4 MiB layer chunk arrives as 5.6 MB of base64. Invoke decodes the event
// as encoding/json does, except that a base64 body is taken from the
// payload where it lies (decodeEvent), and encodes the response exactly
// as aws-lambda-go does (no HTML escaping, no trailing newline).
func (f HandlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := decodeEvent(payload, &ev); err != nil {
		return nil, err
	}
	res, err := f(ctx, ev)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// decodeEvent decodes a payload-2.0 event into ev as aws-lambda-go
// would (decodeJSON), faster for a base64 body: the top-level "body" string is found
// by a structural scan that skips every other value, the rest of the
// event (a few KB) is decoded by encoding/json with the body emptied,
// and ev.Body then aliases the payload's bytes (the event does not
// outlive the invocation, and serve decodes the body before it returns).
// A body string holding an escape, a line break or anything else that
// makes the raw bytes differ from the unquoted string, a body that is not
// base64, a key that matches "body" but is not exactly it, and anything
// the scan does not understand all take encoding/json's path instead.
// A control character left in the base64 body fails serve's strict
// decoder, as it would fail encoding/json.
func decodeEvent(payload []byte, ev *events.APIGatewayV2HTTPRequest) error {
	start, end, ok := bodySpan(payload)
	if !ok {
		return decodeJSON(payload, ev)
	}
	body := payload[start:end]
	if bytes.IndexByte(body, '\n') >= 0 || bytes.IndexByte(body, '\r') >= 0 {
		return decodeJSON(payload, ev)
	}
	rest := make([]byte, 0, len(payload)-len(body))
	rest = append(append(rest, payload[:start]...), payload[end:]...)
	if err := decodeJSON(rest, ev); err != nil {
		return err
	}
	if !ev.IsBase64Encoded {
		*ev = events.APIGatewayV2HTTPRequest{}
		return decodeJSON(payload, ev)
	}
	if len(body) > 0 {
		ev.Body = unsafe.String(unsafe.SliceData(body), len(body))
	}
	return nil
}

// bodySpan finds the contents of the top-level "body" member's string
// value in an event's JSON: payload[start:end] lies between its quotes
// and holds no backslash. ok is false when there is no such member, when
// there are two, when a key could decode to a name encoding/json would
// match with "body" (an escape, another case), or when the JSON is not
// an object the scan can follow.
func bodySpan(p []byte) (start, end int, ok bool) {
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return 0, 0, false
	}
	i++
	found := false
	for {
		i = skipSpace(p, i)
		if i >= len(p) {
			return 0, 0, false
		}
		switch p[i] {
		case '}':
			return start, end, found
		case ',':
			i++
			continue
		case '"':
		default:
			return 0, 0, false
		}
		ke, kesc := stringEnd(p, i+1)
		if ke < 0 {
			return 0, 0, false
		}
		key := p[i+1 : ke]
		i = skipSpace(p, ke+1)
		if i >= len(p) || p[i] != ':' {
			return 0, 0, false
		}
		i = skipSpace(p, i+1)
		if i >= len(p) {
			return 0, 0, false
		}
		isBody := !kesc && string(key) == "body"
		if kesc || (!isBody && bytes.EqualFold(key, []byte("body"))) {
			return 0, 0, false
		}
		if isBody {
			if found || p[i] != '"' {
				return 0, 0, false
			}
			ve, vesc := stringEnd(p, i+1)
			if ve < 0 || vesc {
				return 0, 0, false
			}
			start, end, found = i+1, ve, true
			i = ve + 1
			continue
		}
		if i = skipValue(p, i); i < 0 {
			return 0, 0, false
		}
	}
}

// stringEnd returns the index of the quote that closes the string whose
// contents begin at i, and whether the contents hold a backslash; -1 if
// the string does not close.
func stringEnd(p []byte, i int) (int, bool) {
	esc := false
	for {
		q := bytes.IndexByte(p[i:], '"')
		if q < 0 {
			return -1, esc
		}
		if bytes.IndexByte(p[i:i+q], '\\') >= 0 {
			esc = true
		}
		// The quote is escaped if an odd run of backslashes precedes it.
		n := 0
		for j := i + q - 1; j >= i && p[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return i + q, esc
		}
		i += q + 1
	}
}

// skipValue returns the index just past the JSON value starting at i
// (not validated: encoding/json validates what is decoded), or -1.
func skipValue(p []byte, i int) int {
	depth := 0
	for ; i < len(p); i++ {
		switch p[i] {
		case '"':
			e, _ := stringEnd(p, i+1)
			if e < 0 {
				return -1
			}
			if i = e; depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// decodeJSON decodes the first JSON value of p into v, ignoring what
// follows it: what aws-lambda-go does (a json.Decoder's one Decode).
func decodeJSON(p []byte, v any) error {
	return json.NewDecoder(bytes.NewReader(p)).Decode(v)
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}
