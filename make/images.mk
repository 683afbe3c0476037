# hotreload's release images and install manifests, built without a Docker
# daemon: static binaries cross-compiled for each platform, assembled into
# multi-platform OCI images by hack/tools/imagebuild, written as OCI layouts or
# pushed to a registry; the manifests pin the pushed images by digest.

# Where the images go: IMAGE_REPO/webhook:IMAGE_TAG and IMAGE_REPO/reloader:IMAGE_TAG.
IMAGE_REPO ?= hotreload
IMAGE_TAG ?= $(VERSION)
PLATFORMS ?= linux/amd64 linux/arm64
PLATFORM_BIN := $(BIN)/platforms
IMAGES_OUT := $(BIN)/images
DIGESTS := $(IMAGES_OUT)/digests
DIST := $(CURDIR)/dist

# The OCI labels: the images are as reproducible as the binaries; their creation
# time is the commit's.
IMAGE_SOURCE := https://github.com/hotreload/hotreload
GIT_REVISION := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGE_CREATED := $(or $(shell git log -1 --format=%cI 2>/dev/null),1970-01-01T00:00:00Z)

comma := ,
empty :=
space := $(empty) $(empty)

IMAGEBUILD_RELEASE = --platforms $(subst $(space),$(comma),$(strip $(PLATFORMS))) \
  --created $(IMAGE_CREATED) \
  --label org.opencontainers.image.source=$(IMAGE_SOURCE) \
  --label org.opencontainers.image.version=$(VERSION) \
  --label org.opencontainers.image.revision=$(GIT_REVISION) \
  --image '$(IMAGE_REPO)/webhook:$(IMAGE_TAG)=$(PLATFORM_BIN)/{os}_{arch}/webhook,cmd=serve,label=org.opencontainers.image.title=hotreload-webhook,label=org.opencontainers.image.description=hotreload admission webhook and config rollout controller' \
  --image '$(IMAGE_REPO)/reloader:$(IMAGE_TAG)=$(PLATFORM_BIN)/{os}_{arch}/reloader,rootfs=$(PLATFORM_BIN)/{os}_{arch}/validator-rootfs,label=org.opencontainers.image.title=hotreload-reloader,label=org.opencontainers.image.description=hotreload sidecar that delivers config changes to running processes'

# push and manifests name a registry: the default IMAGE_REPO is Docker Hub's.
define need-image-repo
@test "$(origin IMAGE_REPO)" != file || { echo "make $@: set IMAGE_REPO, e.g. make $@ IMAGE_REPO=registry.example.com/hotreload"; exit 1; }
endef

##@ Images and release

.PHONY: build-platforms
# The validator goes into the reloader's image beside the reloader, as a
# layer of its own (bin/platforms/OS_ARCH/validator-rootfs/validator).
build-platforms: ## Cross-compile static webhook, reloader and validator binaries for each of PLATFORMS into bin/platforms/OS_ARCH.
	@for p in $(PLATFORMS); do \
	  echo "go build ./cmd/webhook ./cmd/reloader ./cmd/validator for $$p"; \
	  out=$(PLATFORM_BIN)/$${p%/*}_$${p#*/}; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	    -o $$out/ ./cmd/webhook ./cmd/reloader || exit 1; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	    -o $$out/validator-rootfs/validator ./cmd/validator || exit 1; \
	done

.PHONY: images
images: build-platforms $(BIN)/tools/imagebuild ## Build the webhook and reloader images for PLATFORMS as OCI layouts in bin/images (no Docker).
	$(BIN)/tools/imagebuild --out $(IMAGES_OUT) --format oci $(IMAGEBUILD_RELEASE)

.PHONY: push
push: build-platforms $(BIN)/tools/imagebuild ## Push the images as IMAGE_REPO/{webhook,reloader}:IMAGE_TAG (INSECURE=1: plain HTTP); digests to bin/images/digests.
	$(need-image-repo)
	$(BIN)/tools/imagebuild --push $(if $(INSECURE),--insecure) --digests $(DIGESTS) $(IMAGEBUILD_RELEASE)

.PHONY: manifests
manifests: $(K8S_BIN)/kubectl ## Write dist/hotreload-IMAGE_TAG.yaml (and -selfsigned with make certs' files) with the pushed images pinned by digest.
	$(need-image-repo)
	hack/release-manifests.sh $(DIGESTS) $(IMAGE_REPO) $(IMAGE_TAG) $(DIST) $(K8S_BIN)/kubectl

# The chart of a release: its version the release's without the v (v0.3.0 ->
# 0.3.0), its appVersion, which its images default to, the images' tag.
CHART_VERSION ?= $(patsubst v%,%,$(VERSION))

.PHONY: chart
chart: $(HELM) ## Package charts/hotreload as dist/hotreload-CHART_VERSION.tgz naming the images of IMAGE_TAG; CHART_REPO=oci://… pushes it (INSECURE=1: plain HTTP).
	@$(HELM) package $(CHART_DIR) --version '$(CHART_VERSION)' --app-version '$(IMAGE_TAG)' --destination $(DIST) || { \
	  echo "make chart: CHART_VERSION=$(CHART_VERSION) must be a semantic version (VERSION without its v), e.g. make chart CHART_VERSION=0.3.0"; exit 1; }
	$(if $(CHART_REPO),$(HELM) push $(DIST)/hotreload-$(CHART_VERSION).tgz $(CHART_REPO) $(if $(INSECURE),--plain-http))

.PHONY: docker-images
docker-images: ## Alternative to make images: build the images with docker (Dockerfile, one platform), where a Docker daemon runs.
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
	  for t in webhook reloader; do \
	    echo "docker build --target $$t -t $(IMAGE_REPO)/$$t:$(IMAGE_TAG)"; \
	    docker build --target $$t --build-arg VERSION=$(VERSION) -t $(IMAGE_REPO)/$$t:$(IMAGE_TAG) . || exit 1; \
	  done; \
	else \
	  echo "make docker-images: no Docker here (docker is missing or its daemon does not answer)."; \
	  echo "make images builds the same images without one, make push pushes them."; \
	fi

##@ Local registry

REGISTRY_ADDR ?= 127.0.0.1:5000
REGISTRY_DIR := $(BIN)/registry

$(BIN)/tools/registry: $(wildcard hack/tools/registry/*.go) hack/tools/go.mod
	$(TOOLS_GO) build -trimpath -o $@ ./registry

.PHONY: registry-up
registry-up: $(BIN)/tools/registry ## Serve a registry on REGISTRY_ADDR in the background (blobs in bin/registry; tags in memory: push again after a restart).
	@if [[ -f $(REGISTRY_DIR)/pid ]] && kill -0 "$$(cat $(REGISTRY_DIR)/pid)" 2>/dev/null; then \
	  echo "registry already up (pid $$(cat $(REGISTRY_DIR)/pid))"; exit 0; fi; \
	mkdir -p $(REGISTRY_DIR); \
	$(BIN)/tools/registry --addr $(REGISTRY_ADDR) --dir $(REGISTRY_DIR)/blobs >$(REGISTRY_DIR)/log 2>&1 & \
	echo $$! >$(REGISTRY_DIR)/pid; \
	echo "registry on $(REGISTRY_ADDR) (pid $$!, log $(REGISTRY_DIR)/log): make push IMAGE_REPO=$(REGISTRY_ADDR)/hotreload"

.PHONY: registry-down
registry-down: ## Stop the registry of make registry-up.
	@if [[ -f $(REGISTRY_DIR)/pid ]]; then \
	  kill "$$(cat $(REGISTRY_DIR)/pid)" 2>/dev/null || true; rm -f $(REGISTRY_DIR)/pid; echo "registry stopped"; \
	else echo "no registry running (no $(REGISTRY_DIR)/pid)"; fi
