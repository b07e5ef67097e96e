# Berth — see README.md. Targets are the contract in docs/architecture.md §7.
FUNCTIONS := base manifests blobs uploads tags referrers catalog token admin console authorizer retention events fill
GO        ?= go
export BERTH_ADDR ?= 127.0.0.1:5000
export BERTH_DATA ?= .berth

.PHONY: run run-lambda coldstart test race build cli conformance bench clean $(addprefix build-,$(FUNCTIONS))

# RACE_PKGS are the packages with concurrency (goroutines, shared caches,
# the race suite): `make test` runs them under the race detector.
RACE_PKGS := ./cmd/berth/ ./shared/authz/ ./shared/backend/ ./shared/gateway/ ./shared/proxy/ ./shared/push/ \
	./shared/registry/ ./shared/retention/ ./shared/store/... ./shared/oidc/ ./shared/iamlogin/ ./shared/pullthrough/ ./integration/pullthrough/ ./integration/race/
# RACE_ITERATIONS is how many rounds of each pair the race suite fires in
# `make test` (under the race detector); run alone it fires 200
# (BERTH_RACE_ITERATIONS, docs/storage.md "Testing the races").
RACE_ITERATIONS ?= 50

## run: the registry on http://$(BERTH_ADDR) with embedded storage in $(BERTH_DATA)
run:
	$(GO) run ./cmd/berth serve

## run-lambda: as run, with every function run as its real bootstrap under the Lambda
## Runtime Interface Emulator, configured from the synthesized stack, on the aws backend
## against emulators (docs/lambda-mode.md)
run-lambda:
	./scripts/run-lambda.sh

## coldstart: each function's bootstrap size, init time and cold/warm invoke latency
## under the emulator, beside a hello-world function (docs/lambda-mode.md)
coldstart:
	./scripts/coldstart.sh

## test: every test, infra/ included; tests needing a tool this machine lacks skip and say so
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m $(filter-out $(shell $(GO) list $(RACE_PKGS)),$(shell $(GO) list ./...))
	@$(MAKE) --no-print-directory race
	@$(MAKE) --no-print-directory infra-test

## race: the packages with concurrency under the race detector (it needs cgo: a C compiler such
## as gcc; without one they run without it and say so, and under CI=true that fails), the race
## suite printing how often each outcome of each pair happened
race:
	@if [ "$$($(GO) env CGO_ENABLED)" = 1 ]; then flag=-race; \
	elif [ "$$CI" = true ]; then echo "race: FAIL: the race detector needs cgo and a C compiler (apt-get install gcc)"; exit 1; \
	else flag=; echo "race: SKIP the race detector: no C compiler (install gcc); the tests run without it"; fi; \
	set -x; BERTH_RACE_ITERATIONS=$${BERTH_RACE_ITERATIONS:-$(RACE_ITERATIONS)} $(GO) test -count=1 -timeout 40m $$flag -v ./integration/race/ && \
	$(GO) test -count=1 -timeout 30m $$flag $(filter-out ./integration/race/,$(RACE_PKGS))

## build: dist/<function>/bootstrap and dist/<function>.zip for Lambda (linux/arm64)
build: $(addprefix build-,$(FUNCTIONS))

$(addprefix build-,$(FUNCTIONS)): build-%:
	@mkdir -p dist/$*
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags="-s -w" -o dist/$*/bootstrap ./functions/$*
	@cd dist/$* && rm -f ../$*.zip && $(GO) run ../../scripts/zipbootstrap ../$*.zip bootstrap

## cli: bin/berth and bin/berth-credential-provider (the kubelet's, docs/keyless.md) for this machine;
## bin/docker-credential-berth links to berth (docker's credential helper, docs/auth.md)
cli:
	$(GO) build -o bin/berth ./cmd/berth
	ln -sf berth bin/docker-credential-berth
	$(GO) build -o bin/berth-credential-provider ./cmd/berth-credential-provider

## conformance: the OCI conformance suite against a fresh local gateway
conformance:
	./scripts/conformance-local.sh

## bench: Berth (auth on as make run gives it, and off) beside distribution and go-containerregistry's
## in-memory registry, one run, with ratios; BENCH_FLAGS=-quick for a quick run (scripts/bench/main.go)
bench:
	./scripts/bench.sh $(BENCH_FLAGS)

clean:
	rm -rf dist bin

.PHONY: synth infra-test

## synth: infra/cdk.out/berth-prod.template.json from dist/*.zip, offline (no npm CLI, no Docker);
## with frontDoor=cloudfront outside us-east-1 also berth-prod-edge.template.json (docs/deploy.md)
synth: build
	cd infra && CDK_OUTDIR=cdk.out JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1 $(GO) run .

## infra-test: the CDK stack's assertion tests and the edge function's node:test tests
## (infra/ is its own module; without node both skip and say so, and under CI=true the Go tests fail instead)
infra-test:
	cd infra && $(GO) vet ./... && $(GO) test -count=1 ./...
	@if command -v node >/dev/null 2>&1; then cd infra/edge && node --test --test-reporter=spec; \
	else echo "infra-test: SKIP: node is not on PATH, so the CDK tests and infra/edge's tests did not run (install Node.js 20+)"; fi
