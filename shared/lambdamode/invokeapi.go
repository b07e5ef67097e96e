package lambdamode

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// invokeAPI serves the part of Lambda's Invoke API the functions call
// (AWS_ENDPOINT_URL_LAMBDA): POST /2015-03-31/functions/<name>/invocations,
// synchronous or, with X-Amz-Invocation-Type: Event, queued as Lambda
// queues asynchronous invocations. The retention function fans out
// through it, and the admin function hands runs to retention.
type invokeAPI struct {
	pools map[string]*Pool
	log   *slog.Logger
	// async tracks queued invocations, so Close waits for them.
	async sync.WaitGroup
	ctx   context.Context
}

func (a *invokeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
	name, ok2 := strings.CutSuffix(rest, "/invocations")
	if r.Method != http.MethodPost || !ok || !ok2 {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Lambda mode serves only Invoke")
		return
	}
	// A name, a partial ARN or an ARN ("...:function:<name>[:qualifier]").
	if _, after, found := strings.Cut(name, ":function:"); found {
		name, _, _ = strings.Cut(after, ":")
	}
	p, ok := a.pools[name]
	if !ok {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	switch r.Header.Get("X-Amz-Invocation-Type") {
	case "Event":
		a.async.Add(1)
		go func() {
			defer a.async.Done()
			// Lambda retries a failed asynchronous invocation twice.
			for try := 0; try < 3; try++ {
				if _, err := p.Invoke(a.ctx, payload); err == nil || a.ctx.Err() != nil {
					return
				} else {
					a.log.Warn("asynchronous invocation failed", "function", name, "try", try+1, "error", err.Error())
				}
			}
		}()
		w.WriteHeader(http.StatusAccepted)
	case "", "RequestResponse":
		out, err := p.Invoke(r.Context(), payload)
		var fe *FunctionError
		if errors.As(err, &fe) {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			_ = json.NewEncoder(w).Encode(map[string]string{"errorType": fe.Type, "errorMessage": fe.Message})
			return
		} else if err != nil {
			lambdaError(w, http.StatusInternalServerError, "ServiceException", err.Error())
			return
		}
		_, _ = w.Write(out)
	default:
		lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", "Lambda mode runs RequestResponse and Event invocations")
	}
}

// lambdaError answers as Lambda's API does, with the error type in the
// X-Amzn-ErrorType header and the message in the body.
func lambdaError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
