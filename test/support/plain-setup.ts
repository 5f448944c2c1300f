// The plain-command proof's way to an HA cluster (test/lab/k8s/proof.test.ts, issue 4), as one function for a lab of
// any size, so the setup workflow's wall time can be compared with it on the same kind of lab in the same run:
// pinned packages from the lab mirror, an external etcd with TLS (certificates from src/pki) started by nohup,
// keepalived (unicast VRRP) on the masters, `kubeadm init` on h1 with the VIP as controlPlaneEndpoint,
// `kubeadm join --control-plane` on the other masters one at a time, `kubeadm join` on the workers all at once, then
// every node Ready. What an operator who knows the answer types, with no checks, no retries, no state kept: the floor.
// Like the proof: no load balancer (the API on VIP:6443), the lab's static pod network, no OS or containerd changes
// (the lab's hosts come with them). Its pieces (etcd's PKI and start, keepalived, kubeadm's init config) are the
// proof's too: proof.test.ts runs them one at a time with its checks between, so the two cannot drift apart.
import { createCa, issueCertificate, type CertificateAndKey } from '../../src/pki/index.js';
import { quote } from '../../src/ssh/quote.js';
import type { K8sLab } from '../../lab/k8s/k8s-lab.js';
import { LAB_COMPONENT_CONFIGS, writeFileCommand } from '../../lab/k8s/node.js';
import { installK8sPackages, joinConfig, joinSecrets, waitForReadyNodes } from './k8s-cluster.js';
import { labShell } from './lab-shell.js';
import { pollUntil } from './poll.js';

/** The shell command starting an external etcd member with TLS by nohup (the proof's way), certificates in place. */
export function externalEtcdStart(h: { name: string; address: string }, cluster: string): string {
  const args = [
    `--name=${h.name}`,
    '--data-dir=/var/lib/etcd-external',
    `--listen-client-urls=https://${h.address}:2379,https://127.0.0.1:2379`,
    `--advertise-client-urls=https://${h.address}:2379`,
    `--listen-peer-urls=https://${h.address}:2380`,
    `--initial-advertise-peer-urls=https://${h.address}:2380`,
    `--initial-cluster=${cluster}`,
    '--initial-cluster-state=new',
    '--client-cert-auth',
    '--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt',
    '--cert-file=/etc/etcd/pki/server.crt',
    '--key-file=/etc/etcd/pki/server.key',
    '--peer-client-cert-auth',
    '--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt',
    '--peer-cert-file=/etc/etcd/pki/server.crt',
    '--peer-key-file=/etc/etcd/pki/server.key',
  ];
  return `setsid nohup etcd ${args.map(quote).join(' ')} </dev/null >/var/log/etcd-external.log 2>&1 &`;
}

/** The etcd CA and the apiserver's etcd client certificate (short-lived, ECDSA) both ways of the proof use. */
export async function etcdPki(): Promise<{ ca: CertificateAndKey; client: CertificateAndKey }> {
  const ca = await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 30 });
  const client = await issueCertificate({
    ca,
    commonName: 'kube-apiserver-etcd-client',
    keyType: 'ecdsa-p256',
    validityDays: 30,
    usages: 'client',
  });
  return { ca, client };
}

/** The shell command putting a host's etcd files in place: the CA and the apiserver's client pair on every host; on a
 * member (`cluster` given: its --initial-cluster) also its server certificate, then the member started by nohup. */
export async function etcdHostCommand(
  pki: { ca: CertificateAndKey; client: CertificateAndKey },
  h: { name: string; address: string },
  cluster?: string,
): Promise<string> {
  const { ca, client } = pki;
  const files: Array<[string, string, string]> = [
    ['/etc/kubernetes/pki/etcd/ca.crt', ca.certPem, '0644'],
    ['/etc/kubernetes/pki/apiserver-etcd-client.crt', client.certPem, '0644'],
    ['/etc/kubernetes/pki/apiserver-etcd-client.key', client.keyPem, '0600'],
  ];
  if (cluster !== undefined) {
    const server = await issueCertificate({
      ca,
      commonName: h.name,
      keyType: 'ecdsa-p256',
      validityDays: 30,
      usages: 'peer',
      dnsNames: [h.name, 'localhost'],
      ipAddresses: [h.address, '127.0.0.1'],
    });
    files.push(
      ['/etc/etcd/pki/server.crt', server.certPem, '0644'],
      ['/etc/etcd/pki/server.key', server.keyPem, '0600'],
    );
  }
  return [
    ...files.map(([p, c, m]) => writeFileCommand(p, c, m)),
    ...(cluster !== undefined ? [externalEtcdStart(h, cluster)] : []),
  ].join(' && ');
}

/** etcdctl with the apiserver's client certificate, against these members. */
export const etcdctlCommand = (members: readonly { address: string }[]): string =>
  'etcdctl --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/apiserver-etcd-client.crt ' +
  `--key /etc/kubernetes/pki/apiserver-etcd-client.key --endpoints ${members.map((h) => `https://${h.address}:2379`).join(',')}`;

/** The shell command writing a master's keepalived.conf (unicast VRRP to `peers`, the VIP on eth0), checking it and
 * starting keepalived by nohup. */
export function keepalivedCommand(
  h: { name: string; address: string },
  o: { peers: readonly string[]; priority: number; vip: string },
): string {
  const conf = [
    `global_defs { router_id ${h.name}`,
    '  enable_script_security',
    '  script_user root }',
    'vrrp_instance K2H_API { state BACKUP',
    '  interface eth0',
    '  virtual_router_id 51',
    `  priority ${o.priority}`,
    '  advert_int 1',
    `  unicast_src_ip ${h.address}`,
    ...(o.peers.length ? [`  unicast_peer { ${o.peers.join(' ')} }`] : []),
    `  virtual_ipaddress { ${o.vip}/24 dev eth0 }`,
    '}',
    '',
  ].join('\n');
  return (
    `${writeFileCommand('/etc/keepalived/keepalived.conf', conf)} && keepalived -t -f /etc/keepalived/keepalived.conf && ` +
    '{ setsid nohup keepalived -n -l -D -f /etc/keepalived/keepalived.conf -p /run/keepalived.pid ' +
    '-r /run/keepalived_vrrp.pid -c /run/keepalived_checkers.pid </dev/null >/var/log/keepalived.log 2>&1 & }'
  );
}

/** kubeadm's init config for `primary`: the VIP as controlPlaneEndpoint (and in the certificate), the lab's images,
 * the external etcd members, the lab's component configs. */
export function kubeadmInitConfig(
  lab: K8sLab,
  primary: { name: string; address: string },
  etcd: readonly { address: string }[],
): string {
  const k = lab.kubernetes;
  return [
    'apiVersion: kubeadm.k8s.io/v1beta4',
    'kind: InitConfiguration',
    `localAPIEndpoint: { advertiseAddress: ${primary.address}, bindPort: 6443 }`,
    `nodeRegistration: { name: ${primary.name}, criSocket: unix:///run/containerd/containerd.sock }`,
    '---',
    'apiVersion: kubeadm.k8s.io/v1beta4',
    'kind: ClusterConfiguration',
    `kubernetesVersion: v${k.version}`,
    'clusterName: k2h-lab',
    `controlPlaneEndpoint: ${lab.vip}:6443`,
    `imageRepository: ${k.imageRepository}`,
    `networking: { serviceSubnet: ${k.serviceSubnet} }`,
    'apiServer:',
    `  certSANs: [${lab.vip}]`,
    'etcd:',
    '  external:',
    `    endpoints: [${etcd.map((h) => `https://${h.address}:2379`).join(', ')}]`,
    '    caFile: /etc/kubernetes/pki/etcd/ca.crt',
    '    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt',
    '    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key',
    '---',
    LAB_COMPONENT_CONFIGS,
  ].join('\n');
}

export interface PlainShape {
  /** Control planes, the first one runs `kubeadm init` (e.g. ['h1', 'h2']). */
  masters: string[];
  /** External etcd members (the proof: every host). */
  etcd: string[];
}

export interface PlainRun {
  ms: number;
  /** Seconds per stage, in order. */
  phases: Record<string, number>;
}

export async function plainSetup(lab: K8sLab, shape: PlainShape): Promise<PlainRun> {
  const sh = labShell(lab);
  const hostOf = (name: string) => lab.hosts.find((h) => h.name === name)!;
  const etcdHosts = shape.etcd.map(hostOf);
  const [primary, ...others] = shape.masters;
  const workers = lab.hosts.map((h) => h.name).filter((n) => !shape.masters.includes(n));
  const phases: Record<string, number> = {};
  const t0 = performance.now();
  let last = t0;
  const stage = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const v = await f();
    const now = performance.now();
    phases[name] = Math.round((now - last) / 100) / 10;
    last = now;
    return v;
  };

  await stage('packages', () => installK8sPackages(lab, { etcd: true }));

  await stage('etcd', async () => {
    const pki = await etcdPki();
    const cluster = etcdHosts.map((h) => `${h.name}=https://${h.address}:2380`).join(',');
    await Promise.all(
      lab.hosts.map(async (h) =>
        sh(h.name, await etcdHostCommand(pki, h, shape.etcd.includes(h.name) ? cluster : undefined)),
      ),
    );
    const etcdctl = etcdctlCommand(etcdHosts);
    await pollUntil(
      async () =>
        ((await sh(shape.etcd[0]!, `${etcdctl} endpoint health 2>&1`)).match(/is healthy/g) ?? []).length ===
        etcdHosts.length,
      `${etcdHosts.length} healthy etcd members`,
      120_000,
      250,
    );
  });

  await stage('keepalived', async () => {
    const cps = shape.masters.map(hostOf);
    await Promise.all(
      cps.map((h, i) =>
        sh(
          h.name,
          keepalivedCommand(h, {
            peers: cps.filter((p) => p !== h).map((p) => p.address),
            priority: 150 - 10 * i,
            vip: lab.vip,
          }),
        ),
      ),
    );
    await pollUntil(
      async () => (await sh(primary!, 'ip -4 -o addr show dev eth0')).includes(` ${lab.vip}/24 `),
      `the VIP on ${primary}`,
      60_000,
      100,
    );
  });

  await stage('kubeadm init', async () => {
    const initConfig = kubeadmInitConfig(lab, hostOf(primary!), etcdHosts);
    await sh(primary!, writeFileCommand('/root/kubeadm-init.yaml', initConfig, '0600'));
    await sh(primary!, 'kubeadm init --config /root/kubeadm-init.yaml --upload-certs 2>&1');
  });

  // The join secrets go host to host through files, never through test output (labShell redacts errors).
  const { token, caHash } = await joinSecrets(sh, primary);
  const certKey = (
    await sh(primary!, 'kubeadm init phase upload-certs --upload-certs --config /root/kubeadm-init.yaml | tail -1')
  ).trim();
  const join = (name: string, controlPlane: boolean) =>
    sh(
      name,
      `${writeFileCommand(
        '/root/kubeadm-join.yaml',
        joinConfig({
          endpoint: `${lab.vip}:6443`,
          token,
          caHash,
          name,
          ...(controlPlane && { controlPlane: { advertiseAddress: hostOf(name).address, certificateKey: certKey } }),
        }),
        '0600',
      )} && kubeadm join --config /root/kubeadm-join.yaml 2>&1`,
    );
  await stage('join masters', async () => {
    for (const m of others) await join(m, true);
  });
  await stage('join workers', () => Promise.all(workers.map((w) => join(w, false))));
  await stage('nodes Ready', () => waitForReadyNodes(sh, lab.hosts.length, 300_000, primary));
  return { ms: Math.round(performance.now() - t0), phases };
}
