module github.com/berth-registry/berth

go 1.26.0

require (
	github.com/aws/aws-lambda-go v1.55.1
	github.com/opencontainers/go-digest v1.0.0
	go.etcd.io/bbolt v1.5.0
)

require (
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
