# The local single-node cluster: node components built from k8s.io/kubernetes
# (hack/tools/go.mod), containerd, runc and the CNI plugins from Debian, images
# built without a Docker engine: hotreload's pushed to the cluster's registry
# and pulled from there, the test images imported. See
# docs/design/2026-11-24-local-cluster.md.

CLUSTER_DIR   := $(BIN)/cluster
NODE_BINS     := kubelet kube-proxy kube-scheduler kube-controller-manager
IMAGES_DIR    := $(CLUSTER_DIR)/images
NGINX_DIR     := $(CLUSTER_DIR)/nginx
HAPROXY_DIR   := $(CLUSTER_DIR)/haproxy
APACHE_DIR    := $(CLUSTER_DIR)/apache
PHPFPM_DIR    := $(CLUSTER_DIR)/php-fpm
PROMETHEUS_DIR := $(CLUSTER_DIR)/prometheus
KUBECONFIG_LOCAL := $(CLUSTER_DIR)/admin.kubeconfig

# hotreload on the local cluster, installed as a user installs it: make push
# and make manifests to the cluster's registry (REGISTRY_ADDR, started by
# make cluster), then kubectl apply -f of the install file. The tag stays dev;
# the version stamped in the binaries is VERSION's.
CLUSTER_IMAGE_REPO := $(REGISTRY_ADDR)/hotreload
CLUSTER_IMAGE_TAG := dev
CLUSTER_INSTALL := $(DIST)/hotreload-$(CLUSTER_IMAGE_TAG)-selfsigned.yaml

# Everything the cluster needs from source, one build at a time and niced: the
# machines have two cores shared with the rest of the work.
NICE_GO := cd $(CURDIR)/hack/tools && CGO_ENABLED=0 nice -n 10 $(GO)

##@ Try it

.PHONY: demo
demo: ## Local cluster (built if missing), hotreload installed, a config edit reaching running pods in steps, a bad one halted.
	hack/demo.sh

.PHONY: demo-nginx
demo-nginx: ## Same cluster and install; Debian's nginx, nginx.conf mounted by subPath, reloaded by SIGHUP on an edit.
	hack/demo-nginx.sh

##@ Local cluster

.PHONY: cluster-deps
cluster-deps: ## Install containerd, runc, CNI plugins, iptables, conntrack from Debian when missing (root).
	hack/cluster/deps.sh

.PHONY: node-components
node-components: envtest-assets $(addprefix $(K8S_BIN)/,$(NODE_BINS)) $(BIN)/tools/coredns ## Build kubelet, kube-proxy, kube-scheduler, kube-controller-manager (bin/k8s) and CoreDNS (once).

# kubelet builds with CGO_ENABLED=0 (no cgo-only feature is used here: no
# seccomp-by-cgo, no cAdvisor's libpfm), like the other components.
$(addprefix $(K8S_BIN)/,$(NODE_BINS)):
	@echo "building $(@F) $(KUBE_VERSION) from k8s.io/kubernetes (a few minutes each on a cold cache)"
	@start=$$(date +%s); \
	$(NICE_GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@ k8s.io/kubernetes/cmd/$(@F); \
	echo "built $(@F) in $$(( $$(date +%s) - start ))s"

# CoreDNS from its Go module, in a module of its own (hack/tools/coredns/go.mod)
# so its dependencies never move the Kubernetes components' versions.
$(BIN)/tools/coredns: hack/tools/coredns/main.go hack/tools/coredns/go.mod
	@echo "building CoreDNS (cluster DNS) from github.com/coredns/coredns"
	cd $(CURDIR)/hack/tools/coredns && CGO_ENABLED=0 nice -n 10 $(GO) build -trimpath -ldflags '-s -w' -o $@ .

$(BIN)/tools/imagebuild: $(wildcard hack/tools/imagebuild/*.go) hack/tools/go.mod
	$(TOOLS_GO) build -trimpath -o $@ ./imagebuild

$(BIN)/tools/pause: $(wildcard hack/tools/pause/*.go)
	$(TOOLS_GO) build -trimpath -ldflags '-s -w' -o $@ ./pause

$(BIN)/demoapp: $(wildcard test/e2e/demoapp/*.go)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $@ ./test/e2e/demoapp

# Debian's nginx, haproxy, apache httpd, php-fpm and Prometheus, each with its
# libraries and loader, as root filesystems: the packages are downloaded once
# (apt-get download, into DIR/debs), never installed on this machine. What they
# share is hack/cluster/deb-rootfs-lib.sh; each script says what its server
# needs.
ROOTFS_LIB := hack/cluster/deb-rootfs-lib.sh

$(NGINX_DIR)/rootfs.ok: hack/cluster/nginx-rootfs.sh $(ROOTFS_LIB)
	hack/cluster/nginx-rootfs.sh $(NGINX_DIR)

$(HAPROXY_DIR)/rootfs.ok: hack/cluster/haproxy-rootfs.sh $(ROOTFS_LIB)
	hack/cluster/haproxy-rootfs.sh $(HAPROXY_DIR)

$(APACHE_DIR)/rootfs.ok: hack/cluster/apache-rootfs.sh $(ROOTFS_LIB)
	hack/cluster/apache-rootfs.sh $(APACHE_DIR)

$(PHPFPM_DIR)/rootfs.ok: hack/cluster/php-fpm-rootfs.sh $(ROOTFS_LIB)
	hack/cluster/php-fpm-rootfs.sh $(PHPFPM_DIR)

$(PROMETHEUS_DIR)/rootfs.ok: hack/cluster/prometheus-rootfs.sh $(ROOTFS_LIB)
	hack/cluster/prometheus-rootfs.sh $(PROMETHEUS_DIR)

# Its promtool and prometheus run on this machine too (the loader and libc
# are the system's): the alert rules' tests and the monitoring e2e test.
PROMTOOL := $(PROMETHEUS_DIR)/rootfs/usr/bin/promtool
PROMETHEUS := $(PROMETHEUS_DIR)/rootfs/usr/bin/prometheus

.PHONY: prometheus
prometheus: $(PROMETHEUS_DIR)/rootfs.ok ## Unpack Debian's prometheus package into bin/cluster/prometheus (once): make unit and make lint run its promtool, the monitoring e2e test its prometheus.

# The servers' images run as their testdata manifests do (test/e2e/testdata/):
# haproxy in master-worker mode as nonroot, apache2 and php-fpm's master in the
# foreground as www-data, Prometheus with the lifecycle API and its TSDB under
# /tmp as nobody.
.PHONY: images-local
images-local: $(BIN)/tools/imagebuild $(BIN)/tools/pause $(BIN)/demoapp $(NGINX_DIR)/rootfs.ok $(HAPROXY_DIR)/rootfs.ok $(APACHE_DIR)/rootfs.ok $(PHPFPM_DIR)/rootfs.ok $(PROMETHEUS_DIR)/rootfs.ok ## Build the test images the cluster imports, pause, demo app, nginx, haproxy, apache, php-fpm and prometheus, as tarballs (no Docker).
	$(BIN)/tools/imagebuild --out $(IMAGES_DIR) \
	  --image 'hotreload/pause:dev=$(BIN)/tools/pause,user=65535' \
	  --image 'hotreload/demoapp:dev=$(BIN)/demoapp' \
	  --image 'hotreload/nginx:dev=rootfs=$(NGINX_DIR)/rootfs,path=/usr/sbin/nginx,user=33' \
	  --image 'hotreload/haproxy:dev=rootfs=$(HAPROXY_DIR)/rootfs,path=/usr/sbin/haproxy,cmd=-W,cmd=-db,cmd=-f,cmd=/etc/haproxy/haproxy.cfg,user=65532' \
	  --image 'hotreload/apache:dev=rootfs=$(APACHE_DIR)/rootfs,path=/usr/sbin/apache2,cmd=-DFOREGROUND,user=33' \
	  --image 'hotreload/php-fpm:dev=rootfs=$(PHPFPM_DIR)/rootfs,path=/usr/sbin/php-fpm8.2,cmd=--nodaemonize,cmd=--fpm-config,cmd=/etc/php/8.2/fpm/php-fpm.conf,user=33' \
	  --image 'hotreload/prometheus:dev=rootfs=$(PROMETHEUS_DIR)/rootfs,path=/usr/bin/prometheus,cmd=--config.file=/etc/prometheus/prometheus.yml,cmd=--storage.tsdb.path=/tmp/prometheus,cmd=--web.enable-lifecycle,cmd=--web.listen-address=:9090,user=65534'

.PHONY: cluster
cluster: cluster-check node-components images-local $(BIN)/tools/registry ## Start the local single-node cluster and its registry (state in bin/cluster; KUBECONFIG=bin/cluster/admin.kubeconfig), then make cluster-push.
	K8S_BIN=$(K8S_BIN) CLUSTER_DIR=$(CLUSTER_DIR) REGISTRY_ADDR=$(REGISTRY_ADDR) hack/cluster/up.sh
	@$(MAKE) --no-print-directory cluster-push

# The registry keeps its tags in memory: every start of the cluster is
# followed by this push.
.PHONY: cluster-push
cluster-push: ## Push hotreload's images to the running cluster's registry and write its install file (make push manifests IMAGE_REPO=127.0.0.1:5000/hotreload IMAGE_TAG=dev).
	@test -f $(CERTS_DIR)/secret.yaml || $(MAKE) --no-print-directory certs
	$(MAKE) --no-print-directory push manifests IMAGE_REPO=$(CLUSTER_IMAGE_REPO) IMAGE_TAG=$(CLUSTER_IMAGE_TAG)
	@echo "install hotreload: kubectl apply -f $(CLUSTER_INSTALL)"

.PHONY: cluster-check
cluster-check:
	@hack/cluster/deps.sh --check

.PHONY: cluster-component
cluster-component: ## Stop, start or restart one component of the running cluster with its own flags (root; for fault tests): make cluster-component DO=stop|start|restart C=kube-apiserver|etcd|kubelet|containerd|...
	hack/cluster/component.sh $(DO) $(C)

.PHONY: cluster-down
cluster-down: ## Stop the local cluster: every process it started, its mounts, bridge and iptables rules.
	CLUSTER_DIR=$(CLUSTER_DIR) hack/cluster/down.sh

.PHONY: cluster-clean
cluster-clean: cluster-down ## Stop the local cluster and delete its state (bin/cluster).
	rm -rf $(CLUSTER_DIR)

##@ End to end

E2E_RUN ?= .
# The tests install hotreload from HOTRELOAD_INSTALL, the file make cluster
# wrote, and the chart with $(HELM) (HOTRELOAD_HELM, which the Makefile exports).
E2E_GO_TEST := KUBECONFIG=$(KUBECONFIG_LOCAL) HOTRELOAD_INSTALL=$(CLUSTER_INSTALL) $(GO) test -count=1 -tags e2e

.PHONY: e2e
e2e: cluster build $(HELM) ## The end-to-end tests on the local cluster (started if down; root): make e2e [E2E_RUN=regexp].
	$(E2E_GO_TEST) -timeout 45m -run '$(E2E_RUN)' -v ./test/e2e/ 2>&1 | grep -v -E '^(=== (RUN|PAUSE|CONT)|\s*$$)'

# Every end-to-end benchmark once, at its smallest size: a benchmark that
# breaks fails CI (.ci/run); no figure is asserted.
E2E_SMOKE := E2E_ADMISSION_PODS=5 E2E_ENV_REPLICAS=3 E2E_EDITS=1 E2E_READY_EDITS=1 E2E_HALTS=1 E2E_NGINX_EDITS=1

.PHONY: bench-e2e-smoke
bench-e2e-smoke: cluster build ## Every end-to-end benchmark once at its smallest size, as CI runs them (about 5 min): they break in CI, not between README updates.
	$(E2E_SMOKE) $(E2E_GO_TEST) -timeout 20m -run '^$$' -bench E2E -benchtime 1x ./test/e2e/

.PHONY: bench-e2e
bench-e2e: cluster build ## The README's end-to-end figures: admission latency, edit -> serving with and without hotreload, bad config -> stable, nginx with and without its verdict, an env change against kubectl rollout restart (about 20 min; E2E_EDITS=50, E2E_READY_EDITS=10, E2E_HALTS=10, E2E_NGINX_EDITS=20, E2E_ENV_REPLICAS=3,30).
	$(E2E_GO_TEST) -timeout 30m -run '^$$' -bench E2E -benchtime 1x ./test/e2e/
