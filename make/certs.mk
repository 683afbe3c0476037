# Certificates for the selfsigned overlay.

CERTS_DIR ?= deploy/selfsigned/certs

##@ Install

.PHONY: certs
certs: ## Generate the webhook's CA and serving certificate for deploy/selfsigned (FORCE=1 to replace them).
	$(GO) run ./certs --out $(CERTS_DIR) $(if $(FORCE),--force)
