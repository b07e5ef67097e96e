package gateway

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
	simdbase64 "github.com/segmentio/asm/base64"

	"github.com/berth-registry/berth/shared/route"
)

// textBody reports whether API Gateway passes a body of this content type
// as text; every other body (including one without a content type) is
// base64-encoded (docs/gateway-facts.md §3).
func textBody(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	switch ct {
	case "application/json", "application/xml", "application/javascript":
		return true
	}
	return strings.HasPrefix(ct, "text/")
}

// lowerNames are the lower-case names of the headers most requests
// carry (API Gateway passes header names in lower case), spared an
// allocation each.
var lowerNames = map[string]string{
	"Accept": "accept", "Accept-Encoding": "accept-encoding", "Authorization": "authorization",
	"Connection": "connection", "Content-Length": "content-length", "Content-Type": "content-type",
	"Content-Range": "content-range", "Cookie": "cookie", "Host": "host", "User-Agent": "user-agent",
	"X-Forwarded-For": "x-forwarded-for", "X-Forwarded-Port": "x-forwarded-port", "X-Forwarded-Proto": "x-forwarded-proto",
}

// lower is strings.ToLower for header names.
func lower(k string) string {
	if l, ok := lowerNames[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

// buildEvent makes the payload-2.0 event API Gateway would send for r.
func buildEvent(r *http.Request, m route.Match, body []byte, scratch *[]byte, requestID string, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := make(map[string]string, len(r.Header)+4)
	var cookies []string
	for k, vs := range r.Header {
		lk := lower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	if r.ContentLength >= 0 && len(body) > 0 {
		headers["content-length"] = strconv.Itoa(len(body))
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	headers["x-forwarded-for"] = ip
	// x-forwarded-port is the port the client connected to, not its own.
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	headers["x-forwarded-port"] = port
	headers["x-forwarded-proto"] = proto
	var qsp map[string]string
	if r.URL.RawQuery != "" { // an empty query parses to nothing
		if q := r.URL.Query(); len(q) > 0 {
			qsp = map[string]string{}
			for k, vs := range q {
				qsp[k] = strings.Join(vs, ",")
			}
		}
	}
	routeKey := m.Route.Key()
	domainPrefix, _, _ := strings.Cut(r.Host, ".")
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.Path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: qsp,
		PathParameters:        m.Params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    "000000000000",
			Stage:        "$default",
			RequestID:    requestID,
			APIID:        "local",
			DomainName:   r.Host,
			DomainPrefix: domainPrefix,
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  ip,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if textBody(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			// Encoded into scratch, which the event's string then
			// aliases: EncodeToString would allocate and copy a layer
			// chunk's 5.6 MB once more. The caller keeps scratch
			// unchanged for as long as the event is in use.
			n := simdbase64.StdEncoding.EncodedLen(len(body))
			if cap(*scratch) < n {
				*scratch = make([]byte, n)
			}
			enc := (*scratch)[:n]
			simdbase64.StdEncoding.Encode(enc, body)
			ev.Body = unsafe.String(unsafe.SliceData(enc), len(enc))
			ev.IsBase64Encoded = true
		}
	}
	return ev
}
