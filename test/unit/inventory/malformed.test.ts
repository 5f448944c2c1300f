// Every malformed inventory must be reported at the exact file, line, column and field a user has to edit.
// One row per case: the fixture, and the issue (or warning) we expect among those reported.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InventoryError, loadInventory, readInventorySource, validateSource } from '../../../src/inventory/index.js';
import { CLUSTER_WIDE } from '../../../src/inventory/rules.js';
import { ONCE } from '../../../src/plan/runbook.js';

const fixtures = fileURLToPath(new URL('../../fixtures/inventory/', import.meta.url));

interface Case {
  /** Fixture path under test/fixtures/inventory (a YAML file, or an INI directory). */
  path: string;
  kind?: 'error' | 'warning';
  /** File the issue is in, relative to the fixture dir; defaults to `path` (or `path/hosts` for INI). */
  file?: string;
  line: number;
  column: number;
  field: string;
  message: RegExp;
}

const yaml: [string, Case][] = [
  [
    'duplicate host name',
    {
      path: 'yaml/duplicate-host-name.yaml',
      line: 10,
      column: 11,
      field: 'hosts[1].name',
      message: /duplicate host name "h1" \(see line 7\)/,
    },
  ],
  [
    'a host named like the cluster-wide steps',
    {
      path: 'yaml/host-named-cluster.yaml',
      line: 10,
      column: 11,
      field: 'hosts[1].name',
      message: /host name "cluster" is reserved/,
    },
  ],
  [
    'duplicate address',
    {
      path: 'yaml/duplicate-address.yaml',
      line: 14,
      column: 14,
      field: 'hosts[2].address',
      message: /duplicate address 10\.200\.0\.12 \(see line 11\)/,
    },
  ],
  [
    'two primary masters',
    {
      path: 'yaml/two-primaries.yaml',
      line: 12,
      column: 13,
      field: 'hosts[1].roles[0]',
      message: /second primary master \(h1 is already primary\)/,
    },
  ],
  [
    'no primary master',
    {
      path: 'yaml/no-primary.yaml',
      line: 6,
      column: 1,
      field: 'hosts',
      message: /no primary master: give exactly one of h1, h2, h3/,
    },
  ],
  [
    'workers but no masters',
    {
      path: 'yaml/workers-no-masters.yaml',
      line: 8,
      column: 1,
      field: 'hosts',
      message: /there are workers \(w1, w2\) but no masters/,
    },
  ],
  [
    'even etcd count',
    {
      path: 'yaml/even-etcd.yaml',
      kind: 'warning',
      line: 12,
      column: 12,
      field: 'hosts[1].roles',
      message: /2 etcd members \(h1, h2\) tolerate no more failures than 1/,
    },
  ],
  [
    'external etcd without members',
    {
      path: 'yaml/external-etcd-no-members.yaml',
      line: 7,
      column: 11,
      field: 'cluster.etcd.mode',
      message: /external etcd needs hosts with the etcd role/,
    },
  ],
  [
    'stacked etcd with etcd-role hosts',
    {
      path: 'yaml/stacked-with-etcd-role.yaml',
      line: 11,
      column: 29,
      field: 'hosts[0].roles[1]',
      message: /etcd\.mode is stacked/,
    },
  ],
  [
    'VIP outside the masters subnet',
    {
      path: 'yaml/vip-outside-subnet.yaml',
      line: 5,
      column: 14,
      field: 'cluster.vip.address',
      message: /not in the masters' subnet 10\.200\.1\.0\/24 .*h1 is 10\.200\.0\.11/,
    },
  ],
  [
    'VIP outside a /28 given by prefixLength',
    {
      path: 'yaml/vip-prefix.yaml',
      line: 5,
      column: 14,
      field: 'cluster.vip.address',
      message: /subnet 10\.200\.0\.96\/28 \(vip\.prefixLength 28\)/,
    },
  ],
  [
    'VIP equal to a host address',
    {
      path: 'yaml/vip-is-host.yaml',
      line: 5,
      column: 14,
      field: 'cluster.vip.address',
      message: /also the address of host h4.*\(see line 17\)/,
    },
  ],
  [
    'VIP on the broadcast address',
    {
      path: 'yaml/vip-broadcast.yaml',
      line: 5,
      column: 14,
      field: 'cluster.vip.address',
      message: /broadcast address of 10\.200\.0\.0\/24/,
    },
  ],
  [
    'pod and service subnets overlap',
    {
      path: 'yaml/pod-service-overlap.yaml',
      line: 5,
      column: 18,
      field: 'cluster.serviceSubnet',
      message: /overlaps podSubnet 10\.96\.0\.0\/16/,
    },
  ],
  [
    'pod subnet overlaps the host network',
    {
      path: 'yaml/pod-overlaps-hosts.yaml',
      line: 4,
      column: 14,
      field: 'cluster.podSubnet',
      message: /overlaps the host network 10\.200\.0\.0\/24/,
    },
  ],
  [
    'service subnet contains a host',
    {
      path: 'yaml/service-contains-worker.yaml',
      line: 4,
      column: 18,
      field: 'cluster.serviceSubnet',
      message: /contains host h4's address 10\.100\.0\.14.*\(see line 18\)/,
    },
  ],
  [
    'CIDR with a /33 prefix',
    {
      path: 'yaml/bad-cidr.yaml',
      line: 4,
      column: 18,
      field: 'cluster.serviceSubnet',
      message: /expected an IPv4 CIDR.*got "10\.96\.0\.0\/33"/,
    },
  ],
  [
    'CIDR with host bits set',
    {
      path: 'yaml/cidr-host-bits.yaml',
      line: 4,
      column: 14,
      field: 'cluster.podSubnet',
      message: /host bits set; did you mean 10\.244\.0\.0\/16\?/,
    },
  ],
  [
    'pod subnet smaller than a node range',
    {
      path: 'yaml/pod-subnet-too-small.yaml',
      line: 4,
      column: 14,
      field: 'cluster.podSubnet',
      message: /smaller than the \/24 each node gets/,
    },
  ],
  [
    'pod subnet with room for fewer nodes than the inventory has, at nodeCidrMaskSize',
    {
      path: 'yaml/pod-subnet-node-mask.yaml',
      line: 4,
      column: 14,
      field: 'cluster.podSubnet',
      message: /room for 4 nodes \(one \/28 each \(cluster\.nodeCidrMaskSize\)\) but the inventory has 5/,
    },
  ],
  [
    'service subnet larger than a /12',
    {
      path: 'yaml/service-subnet-too-large.yaml',
      line: 4,
      column: 18,
      field: 'cluster.serviceSubnet',
      message: /larger than the \/12 kube-apiserver accepts/,
    },
  ],
  [
    'Kubernetes below 1.28',
    {
      path: 'yaml/version-too-old.yaml',
      line: 3,
      column: 22,
      field: 'cluster.kubernetesVersion',
      message: /older than 1\.28 is not supported.*got "1\.27\.3"/,
    },
  ],
  [
    'Kubernetes version without a patch',
    {
      path: 'yaml/version-malformed.yaml',
      line: 3,
      column: 22,
      field: 'cluster.kubernetesVersion',
      message: /expected a Kubernetes version like 1\.32\.4; got "v1\.32"/,
    },
  ],
  [
    'Kubernetes version as a YAML float',
    {
      path: 'yaml/version-float.yaml',
      line: 3,
      column: 22,
      field: 'cluster.kubernetesVersion',
      message: /expected a string, got number 1\.3/,
    },
  ],
  [
    'load balancer on 6443',
    {
      path: 'yaml/lb-port-6443.yaml',
      line: 6,
      column: 11,
      field: 'cluster.loadBalancer.port',
      message: /6443 is kube-apiserver's on every master/,
    },
  ],
  [
    'unknown load balancer kind',
    {
      path: 'yaml/lb-kind-unknown.yaml',
      line: 5,
      column: 11,
      field: 'cluster.loadBalancer.kind',
      message: /expected one of haproxy, nginx, none; got "traefik"/,
    },
  ],
  [
    'logging: warm keeps no longer than hot',
    {
      path: 'yaml/logging-retention.yaml',
      line: 22,
      column: 15,
      field: 'addons.logging.warmDays',
      message: /warmDays \(7\) must be more than hotDays \(7\)/,
    },
  ],
  [
    'logging: hot keeps at least a day',
    {
      path: 'yaml/logging-bad-days.yaml',
      line: 21,
      column: 14,
      field: 'addons.logging.hotDays',
      message: /1/,
    },
  ],
  [
    'unknown top-level key',
    {
      path: 'yaml/unknown-top-key.yaml',
      line: 19,
      column: 1,
      field: 'version',
      message: /unknown key "version" \(allowed here: cluster, addons, ssh, hosts\)/,
    },
  ],
  [
    'misspelt host key',
    {
      path: 'yaml/unknown-host-key.yaml',
      line: 11,
      column: 5,
      field: 'hosts[1].adress',
      message: /unknown key "adress" \(did you mean "address"\?\)/,
    },
  ],
  [
    'misspelt host key leaves address missing',
    {
      path: 'yaml/unknown-host-key.yaml',
      line: 10,
      column: 5,
      field: 'hosts[1].address',
      message: /missing required key "address" in hosts\[1\]/,
    },
  ],
  [
    'unknown nested key',
    {
      path: 'yaml/unknown-nested-key.yaml',
      line: 6,
      column: 5,
      field: 'cluster.vip.interfce',
      message: /did you mean "interface"/,
    },
  ],
  [
    'tab as indentation',
    {
      path: 'yaml/syntax-error.yaml',
      line: 12,
      column: 1,
      field: '(yaml)',
      message: /Tabs are not allowed as indentation/,
    },
  ],
  [
    'unclosed flow sequence',
    {
      path: 'yaml/unclosed-flow.yaml',
      line: 19,
      column: 1,
      field: '(yaml)',
      message: /must be sufficiently indented and end with a \]/,
    },
  ],
  [
    'duplicate key',
    {
      path: 'yaml/duplicate-key.yaml',
      line: 3,
      column: 3,
      field: 'cluster.name',
      message: /duplicate key \(first set at line 2\)/,
    },
  ],
  [
    'two YAML documents',
    {
      path: 'yaml/two-documents.yaml',
      line: 20,
      column: 1,
      field: '(yaml)',
      message: /expected one YAML document, found 2/,
    },
  ],
  ['empty file', { path: 'yaml/empty.yaml', line: 1, column: 1, field: '', message: /^the inventory is empty$/ }],
  [
    'top level is a list',
    { path: 'yaml/not-a-map.yaml', line: 1, column: 1, field: '', message: /expected a map, got list/ },
  ],
  [
    'Ansible YAML inventory',
    { path: 'yaml/ansible-yaml-inventory.yaml', line: 1, column: 1, field: 'all', message: /Ansible YAML inventory/ },
  ],
  [
    'missing VIP',
    {
      path: 'yaml/missing-vip.yaml',
      line: 1,
      column: 1,
      field: 'cluster.vip',
      message: /missing required key "vip" in cluster/,
    },
  ],
  [
    'host without address',
    {
      path: 'yaml/missing-host-address.yaml',
      line: 13,
      column: 5,
      field: 'hosts[2].address',
      message: /missing required key "address"/,
    },
  ],
  [
    'no hosts',
    {
      path: 'yaml/empty-hosts.yaml',
      line: 6,
      column: 8,
      field: 'hosts',
      message: /an inventory needs at least one host/,
    },
  ],
  [
    'SSH port above 65535',
    {
      path: 'yaml/ssh-port-out-of-range.yaml',
      line: 20,
      column: 9,
      field: 'ssh.port',
      message: /expected a number <= 65535; got 70000/,
    },
  ],
  [
    'SSH port as a string',
    {
      path: 'yaml/ssh-port-string.yaml',
      line: 20,
      column: 9,
      field: 'ssh.port',
      message: /expected a number, got string "22"/,
    },
  ],
  [
    'unknown host key policy',
    {
      path: 'yaml/ssh-host-key-policy.yaml',
      line: 20,
      column: 18,
      field: 'ssh.hostKeyPolicy',
      message: /expected one of strict, accept-new; got "yes"/,
    },
  ],
  [
    'bastion port out of range',
    {
      path: 'yaml/ssh-bad-bastion.yaml',
      line: 20,
      column: 12,
      field: 'ssh.bastion',
      message: /port 99999 is out of range/,
    },
  ],
  [
    'public key as identity file',
    {
      path: 'yaml/ssh-public-key.yaml',
      line: 20,
      column: 21,
      field: 'hosts[3].ssh.identityFile',
      message: /is a public key/,
    },
  ],
  [
    'empty SSH user',
    {
      path: 'yaml/ssh-empty-user.yaml',
      line: 20,
      column: 13,
      field: 'hosts[3].ssh.user',
      message: /must not be empty/,
    },
  ],
  [
    'dotted quad above 255',
    {
      path: 'yaml/bad-address.yaml',
      line: 17,
      column: 14,
      field: 'hosts[3].address',
      message: /10\.200\.0\.256 is not a valid IPv4 address/,
    },
  ],
  [
    'address as a list',
    {
      path: 'yaml/address-not-string.yaml',
      line: 17,
      column: 14,
      field: 'hosts[3].address',
      message: /^expected a string, got list$/,
    },
  ],
  [
    'upper-case host name',
    {
      path: 'yaml/host-name-upper.yaml',
      line: 16,
      column: 11,
      field: 'hosts[3].name',
      message: /lower-case DNS label.*got "H4"/,
    },
  ],
  [
    'host without roles',
    {
      path: 'yaml/no-roles.yaml',
      line: 18,
      column: 12,
      field: 'hosts[3].roles',
      message: /a host needs at least one role/,
    },
  ],
  [
    'seed group name as a role',
    {
      path: 'yaml/unknown-role.yaml',
      line: 18,
      column: 13,
      field: 'hosts[3].roles[0]',
      message: /expected one of primary-master, secondary-master, etcd, worker, logs-hot, logs-warm; got "minion"/,
    },
  ],
  [
    'bad label key',
    {
      path: 'yaml/bad-label.yaml',
      line: 20,
      column: 7,
      field: 'hosts[3].labels.zone/',
      message: /not a valid Kubernetes label key/,
    },
  ],
  [
    'etcd 3.3',
    {
      path: 'yaml/etcd-too-old.yaml',
      line: 7,
      column: 14,
      field: 'cluster.etcd.version',
      message: /etcd 3\.3\.9 is too old/,
    },
  ],
  [
    'VIP interface with a slash',
    {
      path: 'yaml/vip-interface.yaml',
      line: 6,
      column: 16,
      field: 'cluster.vip.interface',
      message: /not a Linux interface name/,
    },
  ],
  [
    'image repository with a scheme',
    {
      path: 'yaml/image-repository-scheme.yaml',
      line: 4,
      column: 20,
      field: 'cluster.imageRepository',
      message: /without a scheme, e\.g\. registry\.example\.com\/k8s/,
    },
  ],
  [
    'network plugin manifest without a manifest',
    {
      path: 'yaml/network-manifest-missing.yaml',
      line: 7,
      column: 13,
      field: 'cluster.network.plugin',
      message: /plugin: manifest needs network\.manifest/,
    },
  ],
  [
    'network manifest with the default plugin',
    {
      path: 'yaml/network-manifest-unused.yaml',
      line: 7,
      column: 15,
      field: 'cluster.network.manifest',
      message: /only applied with plugin: manifest \(plugin is flannel\)/,
    },
  ],
  [
    'unknown network plugin',
    {
      path: 'yaml/network-plugin-unknown.yaml',
      line: 7,
      column: 13,
      field: 'cluster.network.plugin',
      message: /flannel.*manifest.*none/,
    },
  ],
  [
    'registry host with a scheme',
    {
      path: 'yaml/registry-host-scheme.yaml',
      line: 8,
      column: 15,
      field: 'cluster.containerRuntime.registries[0].host',
      message: /registry host\[:port\], without a scheme/,
    },
  ],
  [
    'registry mirror without endpoints',
    {
      path: 'yaml/registry-no-endpoints.yaml',
      line: 9,
      column: 20,
      field: 'cluster.containerRuntime.registries[0].endpoints',
      message: /at least one endpoint/,
    },
  ],
  [
    'unknown cgroup driver',
    {
      path: 'yaml/cgroup-driver-unknown.yaml',
      line: 7,
      column: 19,
      field: 'cluster.containerRuntime.cgroupDriver',
      message: /systemd.*cgroupfs/,
    },
  ],
];

const ini: [string, Case][] = [
  [
    'group children cycle',
    {
      path: 'ini/group-cycle',
      line: 27,
      column: 1,
      field: '[nodes-extended:children] lab',
      message: /group cycle: lab → nodes-extended → lab/,
    },
  ],
  [
    'child group never declared',
    {
      path: 'ini/undefined-child-group',
      line: 18,
      column: 1,
      field: '[nodes:children] minions',
      message: /names group "minions", which is never declared/,
    },
  ],
  [
    'vars for a group never declared',
    {
      path: 'ini/vars-undefined-group',
      line: 26,
      column: 1,
      field: '[workers:vars]',
      message: /vars for group "workers", which is never declared/,
    },
  ],
  [
    'misspelt role group',
    {
      path: 'ini/typo-group',
      line: 16,
      column: 1,
      field: '[minoins]',
      message: /unknown group "minoins": did you mean \[minions\]\?/,
    },
  ],
  [
    'elasticsearch_hot host that is no Kubernetes node',
    {
      path: 'ini/logs-hot-not-a-node',
      line: 20,
      column: 1,
      field: 'es1 [elasticsearch_hot]',
      message: /logs-hot runs the logging store as pods: the host must also be a Kubernetes node/,
    },
  ],
  [
    'host in a group without a role',
    {
      path: 'ini/host-without-role',
      kind: 'warning',
      line: 27,
      column: 1,
      field: 'mon1',
      message: /left out: its groups \(monitoring\) give no kubeadm2ha role/,
    },
  ],
  [
    'unknown section type',
    {
      path: 'ini/bad-section',
      line: 9,
      column: 1,
      field: '[masters:childs]',
      message: /unknown section type "childs"/,
    },
  ],
  [
    'host variable without =',
    {
      path: 'ini/host-var-syntax',
      line: 6,
      column: 4,
      field: 'm2',
      message: /expected key=value host variable, got "ansible_host"/,
    },
  ],
  [
    'unterminated quote',
    { path: 'ini/unterminated-quote', line: 17, column: 17, field: '[minions]', message: /unterminated ' quote/ },
  ],
  [
    'bad host range',
    {
      path: 'ini/bad-host-range',
      line: 17,
      column: 1,
      field: 'w[1:b]',
      message: /host range \[1:b\] must be numbers or single letters/,
    },
  ],
  [
    'two primary masters',
    {
      path: 'ini/two-primaries',
      line: 4,
      column: 1,
      field: 'm2 [primary-master]',
      message: /second primary master \(m1 is already primary\).*\(see line 3\)/,
    },
  ],
  [
    'duplicate ansible_host',
    {
      path: 'ini/duplicate-address',
      line: 7,
      column: 17,
      field: 'm3 ansible_host',
      message: /duplicate address 10\.200\.0\.12 \(see line 6\)/,
    },
  ],
  [
    'host given two addresses',
    {
      path: 'ini/conflicting-host-vars',
      line: 27,
      column: 17,
      field: 'm1 ansible_host',
      message: /"10\.200\.0\.99" here but "10\.200\.0\.11" on line 3/,
    },
  ],
  [
    'host port above 65535',
    {
      path: 'ini/bad-port',
      line: 17,
      column: 42,
      field: 'w1 ansible_port',
      message: /expected a number <= 65535; got 99999/,
    },
  ],
  [
    'group port not a number',
    {
      path: 'ini/bad-port-group',
      line: 27,
      column: 14,
      field: 'ansible_port',
      message: /expected a number, got string "ssh"/,
    },
  ],
  [
    'bad ProxyJump in SSH args',
    {
      path: 'ini/bad-ssh-args',
      line: 27,
      column: 25,
      field: 'ansible_ssh_common_args',
      message: /expected \[user@\]host\[:port\]; got "jump@bastion:0x16"/,
    },
  ],
  [
    'password in the inventory',
    {
      path: 'ini/password',
      line: 17,
      column: 46,
      field: 'w1 ansible_ssh_pass',
      message: /passwords do not belong in an inventory/,
    },
  ],
  [
    'become on some hosts only',
    {
      path: 'ini/become-mixed',
      line: 27,
      column: 16,
      field: 'ansible_become',
      message: /on for 3 host\(s\) but not for 1/,
    },
  ],
  [
    'seed Kubernetes 1.9.2',
    {
      path: 'ini/old-kubernetes',
      file: 'ini/old-kubernetes/group_vars/all.yaml',
      line: 2,
      column: 21,
      field: 'KUBERNETES_VERSION',
      message: /older than 1\.28.*got "1\.9\.2"/,
    },
  ],
  [
    'seed etcd 3.2.7',
    {
      path: 'ini/old-etcd',
      file: 'ini/old-etcd/group_vars/all.yaml',
      line: 3,
      column: 15,
      field: 'ETCD_VERSION',
      message: /etcd 3\.2\.7 is too old/,
    },
  ],
  [
    'cluster variable differs between groups',
    {
      path: 'ini/conflicting-cluster-var',
      file: 'ini/conflicting-cluster-var/group_vars/all.yaml',
      line: 2,
      column: 21,
      field: 'KUBERNETES_VERSION',
      message: /"1\.32\.4" for w1 \(set here\) but "1\.31\.2" for m1 \(.*group_vars\/masters\.yaml:2\)/,
    },
  ],
  [
    'no VIP anywhere',
    {
      path: 'ini/missing-vip',
      line: 1,
      column: 1,
      field: 'MASTER_VIP',
      message: /no VIP: set MASTER_VIP \(or APISERVER_VIP\)/,
    },
  ],
  [
    'no Kubernetes version',
    {
      path: 'ini/missing-version',
      line: 1,
      column: 1,
      field: 'KUBERNETES_VERSION',
      message: /KUBERNETES_VERSION is not set/,
    },
  ],
  [
    'Jinja2 beyond variables',
    {
      path: 'ini/unsupported-template',
      file: 'ini/unsupported-template/group_vars/lab.yaml',
      line: 3,
      column: 13,
      field: 'MASTER_VIP',
      message: /\{\{ lookup\('env', 'VIP'\) \}\} is beyond what kubeadm2ha evaluates/,
    },
  ],
  [
    'VIP outside the masters subnet',
    {
      path: 'ini/vip-outside-subnet',
      file: 'ini/vip-outside-subnet/group_vars/lab.yaml',
      line: 3,
      column: 13,
      field: 'MASTER_VIP',
      message: /not in the masters' subnet 10\.201\.0\.0\/24/,
    },
  ],
  [
    'misspelt key in the kubeadm2ha map',
    {
      path: 'ini/override-unknown-key',
      file: 'ini/override-unknown-key/group_vars/lab.yaml',
      line: 7,
      column: 7,
      field: 'kubeadm2ha.cluster.vip.interfce',
      message: /did you mean "interface"/,
    },
  ],
  [
    'hosts in the kubeadm2ha map',
    {
      path: 'ini/override-hosts',
      file: 'ini/override-hosts/group_vars/lab.yaml',
      line: 5,
      column: 3,
      field: 'kubeadm2ha.hosts',
      message: /hosts come from the inventory groups/,
    },
  ],
  [
    'group_vars syntax error',
    {
      path: 'ini/group-vars-syntax',
      file: 'ini/group-vars-syntax/group_vars/all.yaml',
      line: 2,
      column: 28,
      field: '(yaml)',
      message: /Missing closing "quote/,
    },
  ],
  [
    'group_vars file not a map',
    {
      path: 'ini/empty-group-vars-root',
      file: 'ini/empty-group-vars-root/group_vars/masters.yaml',
      line: 1,
      column: 1,
      field: '(yaml)',
      message: /expected a map of variables/,
    },
  ],
  [
    'stacked etcd with a worker in [etcd]',
    { path: 'ini/stacked-etcd-on-worker', line: 18, column: 1, field: 'w1 [etcd]', message: /etcd\.mode is stacked/ },
  ],
  [
    'stacked etcd drops the masters from [etcd]',
    {
      path: 'ini/stacked-etcd',
      kind: 'warning',
      file: 'ini/stacked-etcd/group_vars/all.yaml',
      line: 3,
      column: 15,
      field: 'ETCD_HOSTING',
      message: /\[etcd\] group is not used for m1, m2, m3/,
    },
  ],
  [
    'load balancer port 6443',
    {
      path: 'ini/lb-port-6443',
      file: 'ini/lb-port-6443/group_vars/all.yaml',
      line: 5,
      column: 20,
      field: 'APISERVER_LB_PORT',
      message: /6443 is kube-apiserver's/,
    },
  ],
  [
    'invalid CLUSTER_NAME',
    {
      path: 'ini/cluster-name-invalid',
      file: 'ini/cluster-name-invalid/group_vars/lab.yaml',
      line: 2,
      column: 15,
      field: 'CLUSTER_NAME',
      message: /lower-case DNS label.*"My_Lab"/,
    },
  ],
  [
    'even etcd count',
    { path: 'ini/even-etcd', kind: 'warning', line: 6, column: 1, field: 'm2', message: /2 etcd members \(m1, m2\)/ },
  ],
  [
    'Docker settings',
    {
      path: 'ini/docker-settings',
      kind: 'warning',
      file: 'ini/docker-settings/group_vars/all.yaml',
      line: 4,
      column: 15,
      field: 'SETUP_DOCKER',
      message: /also OS_DOCKER_CGROUP_DRIVER.*dockershim/,
    },
  ],
  [
    'Weave Net',
    {
      path: 'ini/weavenet',
      kind: 'warning',
      file: 'ini/weavenet/group_vars/lab.yaml',
      line: 4,
      column: 17,
      field: 'NETWORK_PLUGIN',
      message: /NETWORK_PLUGIN=weavenet: Weave Net is discontinued/,
    },
  ],
  [
    'Calico (NETWORK_PLUGIN other than flannel)',
    {
      path: 'ini/calico',
      kind: 'warning',
      file: 'ini/calico/group_vars/lab.yaml',
      line: 4,
      column: 17,
      field: 'NETWORK_PLUGIN',
      message: /NETWORK_PLUGIN=calico: kubeadm2ha installs no calico by itself: .*plugin: manifest/,
    },
  ],
  [
    'kube-vip',
    {
      path: 'ini/kube-vip',
      kind: 'warning',
      file: 'ini/kube-vip/group_vars/all.yaml',
      line: 4,
      column: 17,
      field: 'LOAD_BALANCING',
      message: /kube-vip is not used/,
    },
  ],
  [
    'unknown variable',
    {
      path: 'ini/unknown-variable',
      kind: 'warning',
      file: 'ini/unknown-variable/group_vars/lab.yaml',
      line: 4,
      column: 18,
      field: 'MASTER_VIP_CIDR',
      message: /not a seed variable kubeadm2ha knows/,
    },
  ],
  [
    'group_vars for an unknown group',
    {
      path: 'ini/group-vars-for-unknown-group',
      kind: 'warning',
      file: 'ini/group-vars-for-unknown-group/group_vars/workers.yaml',
      line: 2,
      column: 15,
      field: 'workers',
      message: /not a group of .*: not used/,
    },
  ],
];

async function reported(c: Case) {
  const src = await readInventorySource(join(fixtures, c.path));
  const { issues, warnings, inventory } = validateSource(src);
  const list = c.kind === 'warning' ? warnings.map((w) => ({ ...w, message: w.text })) : issues;
  return { list, issues, inventory };
}

describe.each([...yaml, ...ini])('%s', (_name, c) => {
  const file = join(fixtures, c.file ?? (c.path.endsWith('.yaml') ? c.path : `${c.path}/hosts`));
  it(`is reported at ${c.file ?? c.path}:${c.line}:${c.column} ${c.field}`, async () => {
    const { list } = await reported(c);
    const at = list.filter((i) => i.file === file && i.line === c.line && i.column === c.column && i.field === c.field);
    expect(
      at.map((i) => i.message),
      JSON.stringify(list, null, 1),
    ).toEqual(expect.arrayContaining([expect.stringMatching(c.message)]));
  });
  if (c.kind !== 'warning')
    it('makes loadInventory throw an InventoryError naming it', async () => {
      const err = await loadInventory(join(fixtures, c.path)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InventoryError);
      const e = err as InventoryError;
      expect(e.message).toContain(`${file}:${c.line}:${c.column} ${c.field ? `${c.field}: ` : ''}`);
    });
  else
    it('still loads (a warning does not stop anything)', async () => {
      const { issues, inventory } = await reported(c);
      expect(issues).toEqual([]);
      expect(inventory).toBeDefined();
    });
});

describe('secrets', () => {
  it('never repeats a password from the inventory in an issue', async () => {
    const err = (await loadInventory(join(fixtures, 'ini/password')).catch((e: unknown) => e)) as InventoryError;
    expect(err.message).not.toContain('hunter2');
  });
});

describe('reserved host name', () => {
  it('is the name the runbook executor gives cluster-wide steps', () => {
    expect(CLUSTER_WIDE).toBe(ONCE);
  });
});
