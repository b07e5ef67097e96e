package gateway

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Front-door modes (BERTH_FRONTDOOR): each emulates one way the thing in
// front of the functions on AWS may differ from what the local gateway
// does by default, so that `berth doctor` can be shown to catch it
// (docs/architecture.md §6, docs/doctor.md). None of them is confirmed for HTTP APIs.
const (
	// FrontDoorRestRemap renames a response's WWW-Authenticate to
	// x-amzn-Remapped-WWW-Authenticate, as REST APIs and Lambda Function
	// URLs do (docs/gateway-facts.md §7).
	FrontDoorRestRemap = "rest-remap"
	// FrontDoorHeadNoLength answers HEAD with Content-Length: 0, as a
	// gateway that computes the length from the (empty) body would
	// (docs/gateway-facts.md §4).
	FrontDoorHeadNoLength = "head-no-length"
	// FrontDoorNoChunked refuses a request body sent without a length
	// (Transfer-Encoding: chunked) with a bare 411, as a front door that
	// does not reassemble chunked bodies would (docs/gateway-facts.md §6).
	FrontDoorNoChunked = "no-chunked"
	// FrontDoorCloudFrontFix is the CloudFront front door's Lambda@Edge
	// origin-response function: it copies x-amzn-Remapped-WWW-Authenticate
	// back to WWW-Authenticate. Stack it after rest-remap.
	FrontDoorCloudFrontFix = "cloudfront-fix"
)

var frontDoors = map[string]func(http.Handler) http.Handler{
	FrontDoorRestRemap:     restRemap,
	FrontDoorHeadNoLength:  headNoLength,
	FrontDoorNoChunked:     noChunked,
	FrontDoorCloudFrontFix: cloudFrontFix,
}

// FrontDoor wraps h in the front-door emulations named in modes, a comma
// list applied in order: the first is nearest the functions (API
// Gateway), each later one sits in front of the one before, as
// "rest-remap,cloudfront-fix" puts CloudFront in front of a renaming
// gateway. An empty list returns h unchanged.
func FrontDoor(h http.Handler, modes string) (http.Handler, error) {
	for _, m := range strings.Split(modes, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		wrap, ok := frontDoors[m]
		if !ok {
			names := make([]string, 0, len(frontDoors))
			for n := range frontDoors {
				names = append(names, n)
			}
			slices.Sort(names)
			return nil, fmt.Errorf("BERTH_FRONTDOOR: unknown mode %q; use a comma list of %s", m, strings.Join(names, ", "))
		}
		h = wrap(h)
	}
	return h, nil
}

// remappedAuthenticate is how REST APIs rename WWW-Authenticate (Go's
// canonical form of x-amzn-Remapped-WWW-Authenticate).
const remappedAuthenticate = "X-Amzn-Remapped-Www-Authenticate"

func restRemap(next http.Handler) http.Handler {
	return rewriteHeaders(next, func(h http.Header, _ *http.Request) {
		if v, ok := h["Www-Authenticate"]; ok {
			h.Del("Www-Authenticate")
			h[remappedAuthenticate] = v
		}
	})
}

func headNoLength(next http.Handler) http.Handler {
	return rewriteHeaders(next, func(h http.Header, r *http.Request) {
		if r.Method == http.MethodHead {
			h.Set("Content-Length", "0")
		}
	})
}

func cloudFrontFix(next http.Handler) http.Handler {
	return rewriteHeaders(next, func(h http.Header, _ *http.Request) {
		if v, ok := h[remappedAuthenticate]; ok && h.Get("Www-Authenticate") == "" {
			h.Del(remappedAuthenticate)
			h["Www-Authenticate"] = v
		}
	})
}

// maxDrain bounds how much of a refused body is read, so the client sees
// the answer rather than a reset connection.
const maxDrain = 16 << 20

func noChunked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ContentLength is -1 when the body came without a length:
		// chunked on HTTP/1.1, or an HTTP/2 stream without content-length.
		if r.ContentLength < 0 {
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "16")
			w.WriteHeader(http.StatusLengthRequired)
			_, _ = io.WriteString(w, "Length Required\n")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// rewriteHeaders calls edit on the response headers just before they
// are written, as a proxy in front would see and change them.
func rewriteHeaders(next http.Handler, edit func(http.Header, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&headerWriter{ResponseWriter: w, edit: edit, r: r}, r)
	})
}

type headerWriter struct {
	http.ResponseWriter
	edit  func(http.Header, *http.Request)
	r     *http.Request
	wrote bool
}

func (w *headerWriter) WriteHeader(status int) {
	if !w.wrote {
		w.wrote = true
		w.edit(w.Header(), w.r)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
