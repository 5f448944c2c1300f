// Network rules: addresses, the VIP, the pod and service ranges and the load balancer's port, which must all fit
// together or kubeadm init fails late (or, worse, the cluster routes pod traffic into the host network).
import {
  contains,
  formatCidr,
  hasHostBits,
  looksLikeIpv4,
  networkOf,
  overlaps,
  parseCidr,
  parseIpv4,
  formatIpv4,
  type Cidr,
} from './ipv4.js';
import type { Rule, RuleFinding, RuleView } from './rules.js';

const err = (path: RuleFinding['path'], message: string, extra: Partial<RuleFinding> = {}): RuleFinding => ({
  severity: 'error',
  path,
  message,
  ...extra,
});
const warn = (path: RuleFinding['path'], message: string): RuleFinding => ({ severity: 'warning', path, message });
const isMaster = (roles: readonly string[]): boolean =>
  roles.includes('primary-master') || roles.includes('secondary-master');

/** Kubernetes gives each node a /24 of the pod range (kube-controller-manager's default node-cidr-mask-size). */
const NODE_POD_PREFIX = 24;
/** kube-apiserver refuses an IPv4 service range larger than a /12. */
const MAX_SERVICE_PREFIX = 12;

/** A dotted quad with a number above 255 slips past the DNS-name pattern; it is a typo, not a host name. */
export const addressesAreReal: Rule = ({ hosts }) =>
  hosts.flatMap(({ index, host }) =>
    looksLikeIpv4(host.address) && parseIpv4(host.address) === undefined
      ? [err(['hosts', index, 'address'], `${host.address} is not a valid IPv4 address (each number is 0-255)`)]
      : [],
  );

export const vipPlacement: Rule = ({ hosts, cluster }) => {
  const vip = cluster.vip;
  const vipAddr = vip ? parseIpv4(vip.address) : undefined;
  if (!vip || vipAddr === undefined) return [];
  const out: RuleFinding[] = [];
  const path = ['cluster', 'vip', 'address'];
  const net: Cidr = { base: networkOf(vipAddr, vip.prefixLength), prefix: vip.prefixLength };
  for (const { index, host } of hosts)
    if (host.address === vip.address)
      out.push(
        err(path, `the VIP ${vip.address} is also the address of host ${host.name}; the VIP must be a free address`, {
          see: ['hosts', index, 'address'],
        }),
      );
  if (vip.prefixLength < 31) {
    if (vipAddr === net.base)
      out.push(err(path, `${vip.address} is the network address of ${formatCidr(net)}, not usable as the VIP`));
    if (vipAddr === net.base + 2 ** (32 - vip.prefixLength) - 1)
      out.push(err(path, `${vip.address} is the broadcast address of ${formatCidr(net)}, not usable as the VIP`));
  }
  const masters = hosts.filter(({ host }) => isMaster(host.roles));
  const outside = masters.filter(({ host }) => {
    const a = parseIpv4(host.address);
    return a !== undefined && !contains(net, a);
  });
  if (outside.length)
    out.push(
      err(
        path,
        `VIP ${vip.address} is not in the masters' subnet ${formatCidr(net)} (vip.prefixLength ${vip.prefixLength}): ${outside.map(({ host }) => `${host.name} is ${host.address}`).join(', ')}`,
      ),
    );
  const named = masters.filter(({ host }) => parseIpv4(host.address) === undefined && !looksLikeIpv4(host.address));
  if (named.length)
    out.push(
      warn(
        path,
        `cannot check that the VIP is in the subnet of ${named.map(({ host }) => host.name).join(', ')}: their address is a DNS name; preflight checks it on the hosts`,
      ),
    );
  return out;
};

function rangeRules(v: RuleView, key: 'podSubnet' | 'serviceSubnet'): RuleFinding[] {
  const text = v.cluster[key];
  const c = text ? parseCidr(text) : undefined;
  if (!text || !c) return [];
  const path = ['cluster', key];
  const out: RuleFinding[] = [];
  if (hasHostBits(c))
    out.push(
      err(path, `${text} has host bits set; did you mean ${formatIpv4(networkOf(c.base, c.prefix))}/${c.prefix}?`),
    );
  // The VIP's subnet is the host network we know of; hosts outside it are checked one by one.
  const vip = v.cluster.vip;
  const vipAddr = vip ? parseIpv4(vip.address) : undefined;
  const hostNet =
    vip && vipAddr !== undefined ? { base: networkOf(vipAddr, vip.prefixLength), prefix: vip.prefixLength } : undefined;
  if (hostNet && overlaps(c, hostNet))
    out.push(err(path, `${text} overlaps the host network ${formatCidr(hostNet)} (the VIP's subnet)`));
  for (const { index, host } of v.hosts) {
    const a = parseIpv4(host.address);
    if (a === undefined || !contains(c, a) || (hostNet && contains(hostNet, a))) continue;
    out.push(
      err(path, `${text} contains host ${host.name}'s address ${host.address}; pick a range the hosts do not use`, {
        see: ['hosts', index, 'address'],
      }),
    );
  }
  if (key === 'podSubnet') {
    const nodes = v.hosts.filter(({ host }) => isMaster(host.roles) || host.roles.includes('worker')).length;
    // Each node's share: cluster.nodeCidrMaskSize when set (the controller-manager's node-cidr-mask-size-ipv4).
    const perNode = v.cluster.nodeCidrMaskSize ?? NODE_POD_PREFIX;
    const hint = v.cluster.nodeCidrMaskSize === undefined ? '' : ' (cluster.nodeCidrMaskSize)';
    if (c.prefix > perNode)
      out.push(
        err(path, `${text} is smaller than the /${perNode} each node gets${hint}; use a /${perNode} or larger range`),
      );
    else if (v.allHosts && 2 ** (perNode - c.prefix) < nodes)
      out.push(
        err(
          path,
          `${text} has room for ${2 ** (perNode - c.prefix)} nodes (one /${perNode} each${hint}) but the inventory has ${nodes}`,
        ),
      );
  } else if (c.prefix < MAX_SERVICE_PREFIX)
    out.push(err(path, `${text} is larger than the /${MAX_SERVICE_PREFIX} kube-apiserver accepts for services`));
  return out;
}

export const podAndServiceRanges: Rule = (v) => {
  const out = [...rangeRules(v, 'podSubnet'), ...rangeRules(v, 'serviceSubnet')];
  const pod = v.cluster.podSubnet ? parseCidr(v.cluster.podSubnet) : undefined;
  const svc = v.cluster.serviceSubnet ? parseCidr(v.cluster.serviceSubnet) : undefined;
  if (pod && svc && overlaps(pod, svc))
    out.push(
      err(
        ['cluster', 'serviceSubnet'],
        `serviceSubnet ${v.cluster.serviceSubnet} overlaps podSubnet ${v.cluster.podSubnet}`,
      ),
    );
  return out;
};

/** Ports a master already listens on; the load balancer runs on the masters, so it needs a different one. */
const masterPorts: Record<number, string> = {
  6443: 'kube-apiserver',
  2379: 'etcd clients',
  2380: 'etcd peers',
  10250: 'kubelet',
  10256: 'kube-proxy health',
  10257: 'kube-controller-manager',
  10259: 'kube-scheduler',
};

export const loadBalancerPort: Rule = ({ cluster }) => {
  const lb = cluster.loadBalancer;
  if (!lb || lb.kind === 'none') return [];
  const owner = masterPorts[lb.port];
  return owner
    ? [
        err(
          ['cluster', 'loadBalancer', 'port'],
          `port ${lb.port} is ${owner}'s on every master, where ${lb.kind} runs too; use another port (8443 is usual) or kind: none`,
        ),
      ]
    : [];
};

const ifname = /^[^\s/:]{1,15}$/;

export const vipInterface: Rule = ({ cluster }) => {
  const name = cluster.vip?.interface;
  return name !== undefined && !ifname.test(name)
    ? [
        err(
          ['cluster', 'vip', 'interface'],
          `"${name}" is not a Linux interface name (1-15 characters, no spaces, "/" or ":")`,
        ),
      ]
    : [];
};

export const networkRules: Rule[] = [
  addressesAreReal,
  vipPlacement,
  podAndServiceRanges,
  loadBalancerPort,
  vipInterface,
];
