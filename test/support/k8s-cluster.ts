// The plain-command steps of a kubeadm cluster on the Kubernetes lab that more than one proof takes (proof.test.ts:
// HA with external etcd and the lab's static CNI; flannel.test.ts: a pod network on hosts without one): packages
// from the lab mirror, the join secrets passed host to host, worker JoinConfigurations, waiting for Ready nodes, a
// hello pod on a chosen node, and the traffic capture on the lab bridge. Secrets never reach test output: commands
// go through the redacting lab shell.
import type { K8sLab } from '../../lab/k8s/k8s-lab.js';
import { writeFileCommand } from '../../lab/k8s/node.js';
import { bridgeName, vethName } from '../../lab/names.js';
import { labShell, redactSecrets } from './lab-shell.js';
import { pollUntil } from './poll.js';
import { capture, type Capture } from './tcpdump.js';

export const ADMIN = 'kubectl --kubeconfig /etc/kubernetes/admin.conf';

export type Sh = (host: string, cmd: string) => Promise<string>;

export function inCidr(ip: string, cidr: string): boolean {
  const num = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const [base, bits] = cidr.split('/');
  const mask = 2 ** 32 - 2 ** (32 - Number(bits));
  return (num(ip) & mask) >>> 0 === (num(base!) & mask) >>> 0;
}

/** `apt-get install` of the pinned kubeadm, kubelet and kubectl (and etcd's packages) on every host, in parallel. */
export async function installK8sPackages(lab: K8sLab, opts: { etcd?: boolean } = {}): Promise<void> {
  const k = lab.kubernetes;
  const pkgs = ['kubeadm', 'kubelet', 'kubectl'].map((p) => `${p}=${k.packageVersions[k.version]}`);
  const etcd = opts.etcd ? ['etcd-server', 'etcd-client'].map((p) => `${p}=${k.etcd.packageVersion}`) : [];
  const sh = labShell(lab);
  await Promise.all(
    lab.hosts.map((h) =>
      sh(h.name, `DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${[...pkgs, ...etcd].join(' ')} >/dev/null`),
    ),
  );
}

/** A fresh bootstrap token and the CA public key hash, read on the first control plane. */
export async function joinSecrets(sh: Sh, host = 'h1'): Promise<{ token: string; caHash: string }> {
  const token = (await sh(host, 'kubeadm token create --ttl 30m')).trim();
  const caHash = (
    await sh(
      host,
      "openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1",
    )
  ).trim();
  return { token, caHash };
}

export interface JoinConfigOptions {
  /** host:port of the API (the VIP or the first control plane). */
  endpoint: string;
  token: string;
  caHash: string;
  name: string;
  /** For `kubeadm join --control-plane`: this host's API address and the uploaded certificates' key. */
  controlPlane?: { advertiseAddress: string; certificateKey: string };
}

export function joinConfig(o: JoinConfigOptions): string {
  return [
    'apiVersion: kubeadm.k8s.io/v1beta4',
    'kind: JoinConfiguration',
    'discovery:',
    '  bootstrapToken:',
    `    apiServerEndpoint: ${o.endpoint}`,
    `    token: ${o.token}`,
    `    caCertHashes: [sha256:${o.caHash}]`,
    `nodeRegistration: { name: ${o.name}, criSocket: unix:///run/containerd/containerd.sock }`,
    ...(o.controlPlane
      ? [
          'controlPlane:',
          `  localAPIEndpoint: { advertiseAddress: ${o.controlPlane.advertiseAddress}, bindPort: 6443 }`,
          `  certificateKey: ${o.controlPlane.certificateKey}`,
        ]
      : []),
    '',
  ].join('\n');
}

/** Polls `kubectl get nodes` on `host` until `count` nodes are Ready. */
export async function waitForReadyNodes(sh: Sh, count: number, timeoutMs: number, host = 'h1'): Promise<void> {
  await pollUntil(
    async () => {
      const out = await sh(host, `${ADMIN} get nodes --no-headers`);
      return out.split('\n').filter((l) => / Ready /.test(l)).length === count;
    },
    `${count} Ready nodes`,
    timeoutMs,
    500,
  );
}

/** `kubectl get nodes` on `host` as sorted "name status" lines ('h1 Ready', 'h3 NotReady'). */
export async function nodeStates(lab: K8sLab, host = 'h1'): Promise<string[]> {
  return (await lab.exec(host, `${ADMIN} get nodes --no-headers`)).stdout
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/).slice(0, 2).join(' '))
    .sort();
}

/** The API's /readyz through the lab's VIP (port 6443: an apiserver on the VIP; the load balancer's port: through it),
 * asked from `host`: the body, 'ok' when ready. curl failing throws, unless allowFail (then ''), for polls across a
 * VIP failover. */
export async function vipReadyz(
  lab: K8sLab,
  host: string,
  port: number,
  o: { maxTimeSeconds?: number; allowFail?: boolean } = {},
): Promise<string> {
  const cmd = `curl -sk --max-time ${o.maxTimeSeconds ?? 5} https://${lab.vip}:${port}/readyz`;
  return (await lab.exec(host, cmd, { allowFail: o.allowFail })).stdout;
}

/** containerd's unfinished ingests on `host` (`ctr content active`, header left out): what a cut or damaged blob would
 * leave behind if no later attempt took it over. Any lab with containerd on its hosts. */
export async function activeIngests(
  lab: { exec(host: string, cmd: string): Promise<{ stdout: string }> },
  host: string,
): Promise<string[]> {
  return (await lab.exec(host, 'ctr -n k8s.io content active')).stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '');
}

/** Runs the lab's hello server as pod `name` on `node` (applied from h1); resolves to its IP once it is Ready. */
export async function runHelloPod(sh: Sh, o: { name: string; node: string; imageRepository: string }): Promise<string> {
  const pod = [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: { name: ${o.name}, namespace: default, labels: { app: ${o.name} } }`,
    'spec:',
    `  nodeSelector: { kubernetes.io/hostname: ${o.node} }`,
    '  containers:',
    '    - name: hello',
    `      image: ${o.imageRepository}/hello:1`,
    '      ports: [{ containerPort: 8080 }]',
    '      readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }',
    '',
  ].join('\n');
  await sh('h1', `${writeFileCommand(`/root/${o.name}.yaml`, pod)} && ${ADMIN} apply -f /root/${o.name}.yaml`);
  return pollUntil(
    async () => {
      const out = await sh(
        'h1',
        `${ADMIN} get pod ${o.name} -o jsonpath='{.status.podIP} {.status.conditions[?(@.type=="Ready")].status}'`,
      );
      const [podIp, ready] = out.trim().split(' ');
      return ready === 'True' && podIp ? podIp : undefined;
    },
    `the ${o.name} pod Ready with an IP`,
    120_000,
    250,
  );
}

/** Runs `cmd` on the pod's node inside the pod's network namespace (the hello image has no shell or client): the
 * packets leave from the pod's own interface and address, as the pod's own would. */
export async function inPodNetns(sh: Sh, pod: string, node: string, cmd: string): Promise<string> {
  const id = (await sh('h1', `${ADMIN} get pod ${pod} -o jsonpath='{.status.containerStatuses[0].containerID}'`))
    .trim()
    .replace(/^containerd:\/\//, '');
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`pod ${pod}: no container id (${id})`);
  const pid = (await sh(node, `ctr -n k8s.io task ls | awk '$1 == "${id}" { print $2 }'`)).trim();
  if (!/^\d+$/.test(pid)) throw new Error(`pod ${pod}: no task on ${node} (${pid})`);
  return sh(node, `nsenter -t ${pid} -n ${cmd}`);
}

/** On failure, what the cluster looked like (pods, and the last log lines of kube-system/kube-flannel pods whose
 * name matches `logsOf`): the failure message then says why. */
export async function explain<T>(lab: K8sLab, f: () => Promise<T>, logsOf = 'kube-proxy|coredns'): Promise<T> {
  try {
    return await f();
  } catch (err) {
    const pods = await lab.exec(
      'h1',
      `${ADMIN} get pods -A -o wide 2>&1 | tail -20; ` +
        `for p in $(${ADMIN} get pods -A --no-headers -o custom-columns=NS:.metadata.namespace,N:.metadata.name | ` +
        `grep -E '${logsOf}' | tr -s ' ' /); do ` +
        `echo "== $p"; ${ADMIN} -n \${p%%/*} logs --all-containers --tail=6 \${p#*/} 2>&1; done`,
      { allowFail: true },
    );
    throw new Error(`${(err as Error).message}\n${redactSecrets(pods.stdout)}`);
  }
}

/**
 * One capture per host on the root side of its veth. Unlike the bridge device, which only sees frames addressed to
 * the bridge itself or flooded, a host's veth sees everything that host sends and receives, including unicast to
 * other hosts. stop() gives the sum over all hosts.
 */
export async function captureOnHosts(lab: K8sLab, filter: string): Promise<Capture> {
  const all = lab.hosts.map((h) => capture(vethName(lab.id, h.index), filter));
  const listening = Promise.all(all.map((c) => c.listening));
  await listening;
  return {
    listening,
    stop: async () => (await Promise.all(all.map((c) => c.stop()))).reduce((a, b) => a + b, 0),
    get printed() {
      return all.flatMap((c) => c.printed);
    },
  };
}

export interface LabTrafficCapture {
  /** Packets on the lab bridge to any address outside the lab's /24 (must stay 0). */
  leaving: Capture;
  /** Packets to lab addresses (shows the capture works). */
  inside: Capture;
}

/** Starts both captures on the lab bridge and resolves once tcpdump listens. */
export async function captureLabTraffic(lab: K8sLab): Promise<LabTrafficCapture> {
  const bridge = bridgeName(lab.id);
  const own = `10.200.${lab.id}.0/24`;
  const c = {
    leaving: capture(bridge, `ip and not dst net ${own}`),
    inside: capture(bridge, `ip and dst net ${own}`),
  };
  await Promise.all([c.leaving.listening, c.inside.listening]);
  return c;
}
