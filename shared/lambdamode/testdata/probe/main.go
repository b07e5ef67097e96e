// Command probe is a Lambda function for lambdamode's tests: it reports
// its environment, fails, allocates or sleeps on request.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Do    string
	MB    int
	Sleep string
}

var kept []byte

func handle(_ context.Context, r request) (any, error) {
	switch r.Do {
	case "env":
		return os.Environ(), nil
	case "fail":
		return nil, errors.New("failed on purpose")
	case "alloc":
		kept = make([]byte, r.MB<<20)
		for i := range kept {
			kept[i] = 1
		}
		return len(kept), nil
	case "sleep":
		d, err := time.ParseDuration(r.Sleep)
		time.Sleep(d)
		return "slept", err
	}
	return "ok", nil
}

func main() { lambda.Start(handle) }
