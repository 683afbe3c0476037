# hotreload: build, test and try it. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

GO          ?= go
BIN         := $(CURDIR)/bin
TOOLS_MOD   := $(CURDIR)/hack/tools/go.mod

# Versions of the control-plane binaries the tests and the local cluster run.
# They must match hack/tools/go.mod.
KUBE_VERSION := v1.37.2
ETCD_VERSION := v3.7.3
K8S_BIN      := $(BIN)/k8s/$(KUBE_VERSION)

export KUBEBUILDER_ASSETS := $(K8S_BIN)

include make/tools.mk
include make/certs.mk
include make/images.mk
include make/cluster.mk

# The helm binary the chart's tests (charts/) and the end-to-end tests run.
export HOTRELOAD_HELM = $(HELM)
# Debian's promtool and prometheus, which the alert rules' tests (deploy/) and
# the monitoring end-to-end test run.
export HOTRELOAD_PROMTOOL = $(PROMTOOL)
export HOTRELOAD_PROMETHEUS = $(PROMETHEUS)

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^[a-zA-Z0-9_.-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Build

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/hotreload/hotreload/internal/version.Version=$(VERSION)

.PHONY: build
build: ## Build static webhook, reloader, validator and kubectl-hotreload binaries into bin/.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/webhook ./cmd/reloader ./cmd/validator ./cmd/kubectl-hotreload

# Where `make install` puts the kubectl plugin; kubectl finds it on the PATH.
PREFIX ?= /usr/local

.PHONY: install
install: build ## Put the kubectl plugin and its completion on the PATH: $(PREFIX)/bin/kubectl-hotreload (PREFIX=~/.local for no root).
	install -d $(PREFIX)/bin
	install -m 0755 $(BIN)/kubectl-hotreload $(PREFIX)/bin/kubectl-hotreload
	install -m 0755 cmd/kubectl-hotreload/kubectl_complete-hotreload $(PREFIX)/bin/kubectl_complete-hotreload
	@echo "kubectl hotreload --help"

# The kubectl plugin's release for krew: kubectl-hotreload cross-compiled for
# each of DIST_PLATFORMS into bin/dist/OS_ARCH, packed by hack/dist into
# reproducible archives in dist/ (every entry dated at the commit), and the krew
# manifest naming them by DIST_URL/NAME and their sha256. The manifest is
# written, never committed: it names the archives of one build.
DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
DIST_URL ?= https://github.com/hotreload/hotreload/releases/download/$(VERSION)
DIST_MTIME = $(or $(shell git log -1 --format=%ct 2>/dev/null),315532800)

.PHONY: dist
dist: ## The plugin's krew archives for DIST_PLATFORMS, dist/kubectl-hotreload_VERSION_OS_ARCH.tar.gz (.zip on windows), and their manifest, dist/plugins/hotreload.yaml.
	@for p in $(DIST_PLATFORMS); do \
	  echo "go build ./cmd/kubectl-hotreload for $$p"; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	    -o $(BIN)/dist/$${p%/*}_$${p#*/}/ ./cmd/kubectl-hotreload || exit 1; \
	done
	rm -f $(DIST)/kubectl-hotreload_* $(DIST)/plugins/hotreload.yaml
	$(GO) run ./hack/dist -version '$(VERSION)' -binaries $(BIN)/dist -out $(DIST) -url '$(DIST_URL)' \
	  -platforms '$(DIST_PLATFORMS)' -files README.md -mtime $(DIST_MTIME)

##@ Test

.PHONY: test
test: vet unit integration ## Vet, unit and integration tests (the README's test command).

.PHONY: vet
vet: ## go vet, with and without the integration build tag.
	$(GO) vet ./...
	$(GO) vet -tags integration,e2e ./...

.PHONY: unit
unit: $(HELM) $(K8S_BIN)/kubectl $(PROMETHEUS_DIR)/rootfs.ok ## Unit tests: pure code, real files and real child processes (helm and kubectl kustomize for the chart, promtool for the alert rules); no control plane.
	$(GO) test -count=1 ./...
	cd hack/tools && $(GO) test -count=1 ./imagebuild/ ./registry/
	cd hack/tools/govulncheck && $(GO) test -count=1 ./report/

.PHONY: integration
integration: envtest-assets $(HELM) ## Integration tests against a real kube-apiserver and etcd (built by envtest-assets); helm installs the chart there.
	@echo "control plane: $$($(K8S_BIN)/kube-apiserver --version), $$($(K8S_BIN)/etcd --version | head -1)"
	$(GO) test -count=1 -tags integration -run Integration -v ./... 2>&1 | grep -v -E '^(=== (RUN|PAUSE|CONT)|\s*$$)'

.PHONY: lint
lint: vet $(STATICCHECK) $(HELM) $(PROMETHEUS_DIR)/rootfs.ok verify-generated vulncheck ## go vet, staticcheck (pinned in hack/tools), gofmt, the generated CRD and the chart's copies up to date, helm lint --strict, promtool check rules, and govulncheck.
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags integration,e2e ./...
	$(HELM) lint --strict $(CHART_DIR)
	$(HELM) lint --strict $(CHART_DIR) --set certManager.enabled=true,serviceMonitor.enabled=true,prometheusRule.enabled=true,dashboard.enabled=true
	$(PROMTOOL) check rules $(MONITORING_DIR)/rules.yaml
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: run make fmt"; exit 1; }

.PHONY: dist-test
dist-test: dist $(KREW) ## Install the plugin with krew (make krew) from make dist's manifest and this machine's archive, offline and in a krew root of its own; run it; uninstall it.
	HOTRELOAD_KREW=$(KREW) HOTRELOAD_DIST=$(DIST) HOTRELOAD_DIST_VERSION='$(VERSION)' \
	  $(GO) test -count=1 -run TestKrew -v ./hack/dist/ 2>&1 | grep -v -E '^(=== RUN|\s*$$)'

.PHONY: vulncheck
vulncheck: $(GOVULNCHECK) $(VULNREPORT) $(VULNDB)/index/db.json ## govulncheck against the pinned vulnerability database, offline: a called vulnerability in a module fails, one in the standard library is reported.
	@echo "vulnerability database: golang.org/x/vulndb $(VULNDB_VERSION)"
	@set -o pipefail; $(GOVULNCHECK) -db file://$(VULNDB) -format json ./... | $(VULNREPORT) -stdlib=$(VULN_STDLIB)

.PHONY: fmt
fmt: ## gofmt every Go file.
	gofmt -w $$(git ls-files '*.go')

.PHONY: bench-smoke
bench-smoke: ## The unit benchmarks once each, as CI runs them: a benchmark that breaks fails CI; no figure is asserted.
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

.PHONY: bench
bench: envtest-assets ## Benchmarks behind the README's figures (several minutes; run on a quiet machine).
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) test -tags integration -run '^$$' -bench Integration -benchtime 1x ./...
