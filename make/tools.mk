# Pinned binaries built from hack/tools/go.mod. Nothing is downloaded prebuilt:
# the Kubernetes and etcd binaries are compiled from their Go modules.

TOOLS_GO := cd $(CURDIR)/hack/tools && CGO_ENABLED=0 $(GO)

KUBE_LDFLAGS := -s -w \
  -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
  -X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$(patsubst v%,%,$(KUBE_VERSION)))) \
  -X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION))) \
  -X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
  -X k8s.io/client-go/pkg/version.gitMajor=$(word 1,$(subst ., ,$(patsubst v%,%,$(KUBE_VERSION)))) \
  -X k8s.io/client-go/pkg/version.gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION)))

STATICCHECK := $(BIN)/tools/staticcheck
CONTROLLER_GEN := $(BIN)/tools/controller-gen
HELM := $(BIN)/tools/helm
HELM_VERSION = $(shell cd $(CURDIR)/hack/tools/helm && $(GO) list -m -f '{{.Version}}' helm.sh/helm/v4)

##@ Tools

.PHONY: envtest-assets
envtest-assets: $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd $(K8S_BIN)/kubectl ## Build kube-apiserver, etcd and kubectl into bin/k8s (once).

$(K8S_BIN)/kube-apiserver $(K8S_BIN)/kubectl:
	@echo "building $(@F) $(KUBE_VERSION) from k8s.io/kubernetes (several minutes on a cold cache)"
	$(TOOLS_GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@ k8s.io/kubernetes/cmd/$(@F)

$(K8S_BIN)/etcd:
	@echo "building etcd $(ETCD_VERSION) from go.etcd.io/etcd/server/v3"
	$(TOOLS_GO) build -trimpath -ldflags '-s -w' -o $@ go.etcd.io/etcd/server/v3

$(STATICCHECK):
	$(TOOLS_GO) build -trimpath -o $@ honnef.co/go/tools/cmd/staticcheck

# govulncheck and the vulnerability database in a module of their own
# (hack/tools/govulncheck/go.mod): the database is golang.org/x/vulndb's data/osv
# at the pinned version, indexed into bin/vulndb, so the check needs no network
# and gives the same answer everywhere. `go get golang.org/x/vulndb@latest` there
# moves it on.
GOVULNCHECK := $(BIN)/tools/govulncheck
VULNREPORT := $(BIN)/tools/vulnreport
VULNDB := $(BIN)/vulndb
VULN_TOOLS_GO := cd $(CURDIR)/hack/tools/govulncheck && CGO_ENABLED=0 $(GO)
VULNDB_VERSION = $(shell cd $(CURDIR)/hack/tools/govulncheck && $(GO) list -m -f '{{.Version}}' golang.org/x/vulndb)
# warn: the standard library's are mended by a newer Go toolchain, not by this tree.
VULN_STDLIB ?= warn

$(GOVULNCHECK): hack/tools/govulncheck/go.mod
	$(VULN_TOOLS_GO) build -trimpath -o $@ golang.org/x/vuln/cmd/govulncheck

$(VULNREPORT): hack/tools/govulncheck/go.mod hack/tools/govulncheck/report/main.go
	$(VULN_TOOLS_GO) build -trimpath -o $@ ./report

$(VULNDB)/index/db.json: hack/tools/govulncheck/go.mod
	$(VULN_TOOLS_GO) build -trimpath -o $(BIN)/tools/indexdb golang.org/x/vulndb/cmd/indexdb
	rm -rf $(VULNDB)
	$(BIN)/tools/indexdb -vulns "$$(cd $(CURDIR)/hack/tools/govulncheck && $(GO) mod download -json golang.org/x/vulndb | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p')/data/osv" -out $(VULNDB)

# controller-gen in a module of its own (hack/tools/controller-gen/go.mod), so
# its dependencies never move the Kubernetes components' versions.
$(CONTROLLER_GEN): hack/tools/controller-gen/go.mod
	cd $(CURDIR)/hack/tools/controller-gen && CGO_ENABLED=0 $(GO) build -trimpath -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen

# helm in a module of its own (hack/tools/helm/go.mod), so its dependencies
# never move the Kubernetes components' versions; the version stamped is the
# module's (helm version prints it).
$(HELM): hack/tools/helm/go.mod
	@echo "building helm $(HELM_VERSION) from helm.sh/helm/v4 (a few minutes on a cold cache)"
	@start=$$(date +%s); \
	cd $(CURDIR)/hack/tools/helm && CGO_ENABLED=0 nice -n 10 $(GO) build -trimpath \
	  -ldflags '-s -w -X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION)' -o $@ helm.sh/helm/v4/cmd/helm; \
	echo "built helm in $$(( $$(date +%s) - start ))s"

.PHONY: helm
helm: $(HELM) ## Build helm into bin/tools (once): make lint, the chart's test and the e2e tests run it.

# krew in a module of its own (hack/tools/krew/go.mod), as helm: its
# Kubernetes libraries are of 2021. It builds with Go 1.26 as it is, with no
# replace. The version stamped is the module's (krew version prints it; a
# stamped release also asks GitHub for a newer one now and then, unless
# KREW_NO_UPGRADE_CHECK is set, as make dist-test's test sets it).
KREW := $(BIN)/tools/krew
KREW_VERSION = $(shell cd $(CURDIR)/hack/tools/krew && $(GO) list -m -f '{{.Version}}' sigs.k8s.io/krew)

$(KREW): hack/tools/krew/go.mod
	@echo "building krew $(KREW_VERSION) from sigs.k8s.io/krew"
	@start=$$(date +%s); \
	cd $(CURDIR)/hack/tools/krew && CGO_ENABLED=0 nice -n 10 $(GO) build -trimpath \
	  -ldflags '-s -w -X sigs.k8s.io/krew/internal/version.gitTag=$(KREW_VERSION)' -o $@ sigs.k8s.io/krew/cmd/krew; \
	echo "built krew in $$(( $$(date +%s) - start ))s"

.PHONY: krew
krew: $(KREW) ## Build krew into bin/tools (once): make dist-test installs the plugin with it.

##@ Generate

CRD_DIR := deploy/base/crd

# The objects of deploy/ that no value of the Helm chart changes, copied into
# the chart, whose templates read them: files/ for every install,
# files/cert-manager/ for certManager.enabled. A test keeps the chart's other
# objects equal to deploy/'s (charts/chart_test.go).
CHART_DIR := charts/hotreload
CHART_FILES := $(CRD_DIR)/hotreload.dev_configreleases.yaml $(addprefix deploy/base/,namespace.yaml \
  rbac-webhook.yaml rbac-reloader.yaml rbac-people.yaml service.yaml networkpolicy.yaml \
  policy.yaml policy-controller.yaml policy-commands.yaml policy-kept.yaml)
CHART_CERT_MANAGER_FILES := deploy/default/certificate.yaml
# The alert rules and the dashboard: files/monitoring/ for prometheusRule.enabled
# and dashboard.enabled.
MONITORING_DIR := deploy/monitoring
CHART_MONITORING_FILES := $(MONITORING_DIR)/rules.yaml $(MONITORING_DIR)/dashboard.json

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Write the ConfigRelease CRD (deploy/base/crd) and deep-copy functions from api/, and the chart's copies of deploy/.
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=$(CRD_DIR)
	cp $(CHART_FILES) $(CHART_DIR)/files/
	cp $(CHART_CERT_MANAGER_FILES) $(CHART_DIR)/files/cert-manager/
	cp $(CHART_MONITORING_FILES) $(CHART_DIR)/files/monitoring/

.PHONY: verify-generated
verify-generated: $(CONTROLLER_GEN) ## Fail when the generated CRD or deep-copy functions are not those api/ gives, or the chart's copies of deploy/ are stale.
	@for f in $(CHART_FILES); do cmp -s $$f $(CHART_DIR)/files/$${f##*/} || { echo "$(CHART_DIR)/files/$${f##*/} is not $$f: run make generate"; exit 1; }; done; \
	for f in $(CHART_CERT_MANAGER_FILES); do cmp -s $$f $(CHART_DIR)/files/cert-manager/$${f##*/} || { echo "$(CHART_DIR)/files/cert-manager/$${f##*/} is not $$f: run make generate"; exit 1; }; done; \
	for f in $(CHART_MONITORING_FILES); do cmp -s $$f $(CHART_DIR)/files/monitoring/$${f##*/} || { echo "$(CHART_DIR)/files/monitoring/$${f##*/} is not $$f: run make generate"; exit 1; }; done
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=$$tmp; \
	diff -r $(CRD_DIR) $$tmp || { echo "the CRD is stale: run make generate"; exit 1; }; \
	cp api/v1alpha1/zz_generated.deepcopy.go $$tmp/deepcopy.go; \
	$(CONTROLLER_GEN) object paths=./api/...; \
	diff $$tmp/deepcopy.go api/v1alpha1/zz_generated.deepcopy.go || { \
	  cp $$tmp/deepcopy.go api/v1alpha1/zz_generated.deepcopy.go; \
	  echo "the deep-copy functions are stale: run make generate"; exit 1; }
