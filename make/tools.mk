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
