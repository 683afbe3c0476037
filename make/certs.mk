# Certificates for the selfsigned overlay, and the container images.

CERTS_DIR ?= deploy/selfsigned/certs
IMAGE_TAG ?= $(VERSION)
IMAGE_REPO ?= hotreload

##@ Install

.PHONY: certs
certs: ## Generate the webhook's CA and serving certificate for deploy/selfsigned (FORCE=1 to replace them).
	$(GO) run ./certs --out $(CERTS_DIR) $(if $(FORCE),--force)

.PHONY: images
images: ## Build the webhook and reloader images with docker, where a container builder runs.
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
	  for t in webhook reloader; do \
	    echo "docker build --target $$t -t $(IMAGE_REPO)/$$t:$(IMAGE_TAG)"; \
	    docker build --target $$t --build-arg VERSION=$(VERSION) -t $(IMAGE_REPO)/$$t:$(IMAGE_TAG) . || exit 1; \
	  done; \
	else \
	  echo "make images: no container builder here (docker is missing or its daemon does not answer)."; \
	  echo "The Dockerfile's targets 'webhook' and 'reloader' build static binaries on distroless"; \
	  echo "static:nonroot; run 'make images' where docker runs, or 'make build' for the binaries."; \
	fi
