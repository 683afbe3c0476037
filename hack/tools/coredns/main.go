// Command coredns is the local cluster's DNS: CoreDNS built from its Go module
// with only the plugins the cluster needs (kubernetes, forward, cache, errors, bind),
// so it compiles in a minute and pulls in none of the cloud providers' SDKs.
// It runs on the host, on the bridge's address; the kubelet points pods at it
// (clusterDNS). A separate module, so CoreDNS's dependencies never move the
// versions the Kubernetes components in ../go.mod are built with.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

// directives is the plugins' order in a server block, as in CoreDNS's own
// plugin.cfg.
var directives = []string{"bind", "errors", "cache", "kubernetes", "forward"}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
