// Command flannel is the lab's CNI plugin for flannel, written here because the Go module proxy refuses upstream's
// (github.com/flannel-io/cni-plugin: 404). It does what upstream's does and nothing more: flanneld writes the node's
// subnet to /run/flannel/subnet.env, and this plugin turns the `delegate` part of its network configuration into a
// bridge configuration with host-local IPAM for that subnet, then runs Debian's bridge and host-local plugins (found
// through CNI_PATH) with it. The configuration keys are upstream's (subnetFile, dataDir, delegate), so flannel's own
// cni-conf.json works unchanged.
//
// ADD saves the delegate configuration under dataDir/<container id> before running the bridge plugin, so DEL undoes
// exactly what ADD set up even when subnet.env has changed (or is gone) in between, and DEL of an unknown container
// succeeds (the runtime retries DEL and must get the same answer).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

const (
	defaultSubnetFile = "/run/flannel/subnet.env"
	defaultDataDir    = "/var/lib/cni/flannel"
	// CNI 1.1's STATUS code for "the plugin is not available"; the cni library names no constant for it.
	errPluginNotAvailable uint = 50
)

// netConf is what the runtime hands us: the common fields plus flannel's.
type netConf struct {
	CNIVersion    string          `json:"cniVersion,omitempty"`
	Name          string          `json:"name"`
	SubnetFile    string          `json:"subnetFile,omitempty"`
	DataDir       string          `json:"dataDir,omitempty"`
	Delegate      map[string]any  `json:"delegate,omitempty"`
	RawPrevResult json.RawMessage `json:"prevResult,omitempty"`
}

// subnetEnv is flanneld's view of this node: the whole pod network, this node's share, the MTU its backend leaves,
// and whether flanneld masquerades traffic leaving the pod network itself (then the bridge must not do it again).
type subnetEnv struct {
	network *net.IPNet
	subnet  *net.IPNet
	mtu     int
	ipMasq  bool
}

func loadConf(stdin []byte) (*netConf, error) {
	n := &netConf{SubnetFile: defaultSubnetFile, DataDir: defaultDataDir}
	if err := json.Unmarshal(stdin, n); err != nil {
		return nil, fmt.Errorf("flannel: bad network configuration: %w", err)
	}
	if n.Delegate == nil {
		n.Delegate = map[string]any{}
	}
	return n, nil
}

// readSubnetEnv parses flanneld's KEY=VALUE file. FLANNEL_SUBNET holds the bridge's address with the node's prefix
// (e.g. 10.244.1.1/24); host-local wants the network address, so both CIDRs are reduced to their networks.
func readSubnetEnv(path string) (*subnetEnv, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("flannel: %w (flanneld writes it once it has this node's subnet: is it running?)", err)
	}
	defer f.Close()
	env := &subnetEnv{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(s.Text()), "=")
		if !ok {
			continue
		}
		switch key {
		case "FLANNEL_NETWORK":
			_, env.network, err = net.ParseCIDR(value)
		case "FLANNEL_SUBNET":
			_, env.subnet, err = net.ParseCIDR(value)
		case "FLANNEL_MTU":
			env.mtu, err = strconv.Atoi(value)
		case "FLANNEL_IPMASQ":
			env.ipMasq, err = strconv.ParseBool(value)
		}
		if err != nil {
			return nil, fmt.Errorf("flannel: %s: %s: %w", path, key, err)
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("flannel: reading %s: %w", path, err)
	}
	if env.network == nil || env.subnet == nil || env.mtu == 0 {
		return nil, fmt.Errorf("flannel: %s lacks FLANNEL_NETWORK, FLANNEL_SUBNET or FLANNEL_MTU", path)
	}
	return env, nil
}

// delegateConf is the bridge configuration for this node: settings given in `delegate` win, the rest come from
// subnet.env. The default route of pods is the bridge (isDefaultGateway in flannel's cni-conf.json); the route to
// the pod network is added anyway, as upstream does, for delegates configured without a default gateway.
func delegateConf(n *netConf, env *subnetEnv) map[string]any {
	d := make(map[string]any, len(n.Delegate)+6)
	for k, v := range n.Delegate {
		d[k] = v
	}
	setDefault := func(k string, v any) {
		if _, ok := d[k]; !ok {
			d[k] = v
		}
	}
	d["name"] = n.Name
	d["cniVersion"] = n.CNIVersion
	setDefault("type", "bridge")
	setDefault("ipMasq", !env.ipMasq)
	setDefault("mtu", env.mtu)
	if d["type"] == "bridge" {
		setDefault("isGateway", true)
	}
	ipam, _ := d["ipam"].(map[string]any)
	if ipam == nil {
		ipam = map[string]any{}
	}
	if _, ok := ipam["type"]; !ok {
		ipam["type"] = "host-local"
	}
	if _, ok := ipam["ranges"]; !ok {
		ipam["ranges"] = [][]map[string]string{{{"subnet": env.subnet.String()}}}
	}
	if _, ok := ipam["routes"]; !ok {
		ipam["routes"] = []map[string]string{{"dst": env.network.String()}}
	}
	d["ipam"] = ipam
	return d
}

func savedPath(n *netConf, containerID string) (string, error) {
	if containerID == "" || strings.ContainsAny(containerID, "/\x00") || containerID == "." || containerID == ".." {
		return "", fmt.Errorf("flannel: unusable container id %q", containerID)
	}
	return filepath.Join(n.DataDir, containerID), nil
}

func cmdAdd(args *skel.CmdArgs) error {
	n, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	env, err := readSubnetEnv(n.SubnetFile)
	if err != nil {
		return err
	}
	conf, err := json.Marshal(delegateConf(n, env))
	if err != nil {
		return err
	}
	path, err := savedPath(n, args.ContainerID)
	if err != nil {
		return err
	}
	// Saved before the bridge plugin runs: a failed ADD is followed by a DEL, which must find what to undo.
	if err := os.MkdirAll(n.DataDir, 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(path, conf); err != nil {
		return err
	}
	result, err := invoke.DelegateAdd(context.TODO(), delegateType(conf), conf, nil)
	if err != nil {
		return err
	}
	return result.Print()
}

// loadSaved reads the delegate configuration ADD saved for this container; the error wraps os.ErrNotExist when
// there is none.
func loadSaved(args *skel.CmdArgs) (n *netConf, path string, conf []byte, err error) {
	if n, err = loadConf(args.StdinData); err != nil {
		return nil, "", nil, err
	}
	if path, err = savedPath(n, args.ContainerID); err != nil {
		return nil, "", nil, err
	}
	conf, err = os.ReadFile(path)
	return n, path, conf, err
}

func cmdDel(args *skel.CmdArgs) error {
	_, path, conf, err := loadSaved(args)
	if errors.Is(err, os.ErrNotExist) {
		return nil // never added, or already deleted
	}
	if err != nil {
		return err
	}
	if err := invoke.DelegateDel(context.TODO(), delegateType(conf), conf, nil); err != nil {
		return err
	}
	return os.Remove(path)
}

func cmdCheck(args *skel.CmdArgs) error {
	n, _, saved, err := loadSaved(args)
	if err != nil {
		return fmt.Errorf("flannel: no saved configuration for container %s: %w", args.ContainerID, err)
	}
	// The bridge plugin checks against the result the runtime recorded, which comes with our configuration.
	var d map[string]any
	if err := json.Unmarshal(saved, &d); err != nil {
		return err
	}
	if len(n.RawPrevResult) > 0 {
		d["prevResult"] = n.RawPrevResult
	}
	conf, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return invoke.DelegateCheck(context.TODO(), delegateType(conf), conf, nil)
}

// cmdStatus (CNI 1.1): ready once flanneld has written this node's subnet.
func cmdStatus(args *skel.CmdArgs) error {
	n, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	if _, err := readSubnetEnv(n.SubnetFile); err != nil {
		return types.NewError(errPluginNotAvailable, err.Error(), "")
	}
	return nil
}

// delegateType is the delegate's plugin type, read back from the marshalled configuration.
func delegateType(conf []byte) string {
	var t struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(conf, &t)
	return t.Type
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck, Status: cmdStatus},
		version.All, "flannel CNI plugin (kubeadm2ha lab: delegates to bridge and host-local)")
}
