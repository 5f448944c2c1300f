// coredns is CoreDNS 1.12.1 with only the plugins a kubeadm cluster uses, built the way CoreDNS documents for a
// custom plugin set (coredns.io "Writing Plugins for CoreDNS", compile with external plugins): set
// dnsserver.Directives and blank-import each plugin, instead of importing core/plugin, which drags in every plugin
// including the AWS, Azure and Google Cloud SDKs.
//
// The directive list is CoreDNS's own core/dnsserver/zdirectives.go (plugin.cfg) order, filtered: the order decides
// which plugin sees a query first, so it must not be invented. Kept:
//   - everything kubeadm's Corefile uses (cmd/kubeadm/app/phases/addons/dns/manifests.go in Kubernetes 1.34):
//     errors, health, ready, kubernetes, prometheus, forward, cache, loop, reload, loadbalance;
//   - hosts and log, which an operator commonly adds to that Corefile (static names, query logging) and which the
//     lab tests use to run this binary without a cluster;
//   - debug, dnstap, metadata and transfer: packages the plugins above import, so they are compiled in anyway and
//     register themselves (`coredns -plugins` lists them); without a directive a Corefile could not use them.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/debug"
	_ "github.com/coredns/coredns/plugin/dnstap"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metadata"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/transfer"
)

// directives is zdirectives.go of v1.12.1 with the plugins we do not build removed; relative order unchanged.
// "prometheus" is the directive of package plugin/metrics.
var directives = []string{
	"metadata",
	"reload",
	"debug",
	"ready",
	"health",
	"prometheus",
	"errors",
	"log",
	"dnstap",
	"loadbalance",
	"cache",
	"transfer",
	"hosts",
	"kubernetes",
	"loop",
	"forward",
}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
