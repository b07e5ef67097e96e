# Berth — see README.md. Targets are the contract in ../shared/DESIGN.md §9.
FUNCTIONS := base manifests blobs uploads tags referrers catalog
GO        ?= go
export BERTH_ADDR ?= 127.0.0.1:5000
export BERTH_DATA ?= .berth

.PHONY: run test build cli conformance bench clean $(addprefix build-,$(FUNCTIONS))

## run: the registry on http://$(BERTH_ADDR) with embedded storage in $(BERTH_DATA)
run:
	$(GO) run ./cmd/berth serve

## test: every test; tests needing a tool this machine lacks skip and say so
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

## build: dist/<function>/bootstrap and dist/<function>.zip for Lambda (linux/arm64)
build: $(addprefix build-,$(FUNCTIONS))

$(addprefix build-,$(FUNCTIONS)): build-%:
	@mkdir -p dist/$*
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags="-s -w" -o dist/$*/bootstrap ./functions/$*
	@cd dist/$* && rm -f ../$*.zip && $(GO) run ../../scripts/zipbootstrap ../$*.zip bootstrap

## cli: bin/berth for this machine
cli:
	$(GO) build -o bin/berth ./cmd/berth

## conformance: the OCI conformance suite against a fresh local gateway
conformance:
	./scripts/conformance-local.sh

## bench: the local gateway against go-containerregistry's in-memory registry
bench:
	./scripts/bench.sh

clean:
	rm -rf dist bin
