// The Debian packages the lab and the tests run on hosts need. scripts/setup.sh installs the same list; keep the
// two in step.
import { access, chmod, writeFile } from 'node:fs/promises';
import { run } from './proc.js';

export const LAB_PACKAGES = [
  'openssh-server',
  'openssh-client',
  'etcd-server',
  'etcd-client',
  'keepalived',
  'nginx',
  'libnginx-mod-stream',
  'haproxy',
  'skopeo',
  'docker-registry',
  'containerd',
  'runc',
  'ansible-core',
  'iproute2',
  'iputils-ping',
  'busybox-static',
  'tcpdump',
  'openssl',
  'procps',
  'sudo',
  // The real-Kubernetes lab (lab/k8s): CNI plugins for pods, iptables for kube-proxy's image, curl for probes,
  // gpg to sign the apt mirror, dpkg-dev for its index, gcc + libc6-dev for the static pause binary.
  'containernetworking-plugins',
  'iptables',
  'nftables',
  'curl',
  'gpg',
  'gpg-agent',
  'python3',
  'dpkg-dev',
  'gcc',
  'libc6-dev',
  'file',
  // nspawn hosts (lab/nspawn): systemd-nspawn boots them, mmdebstrap builds their root fs.
  'systemd-container',
  'mmdebstrap',
  // The Web UI's browser test (test/e2e/web-ui.test.ts): Debian's chromium, headless.
  'chromium',
  // The production topology test (test/e2e/postgres-topology.test.ts): a private PostgreSQL cluster per run.
  'postgresql',
  // Checks docker-compose.yml against the compose schema (test/unit/deploy/compose.test.ts); no daemon needed.
  'docker-compose',
] as const;

export async function missingLabPackages(): Promise<string[]> {
  const res = await run('dpkg-query', ['-W', '-f=${Package} ${Status}\\n', ...LAB_PACKAGES], { check: false });
  const installed = new Set(
    res.stdout
      .split('\n')
      .filter((l) => l.endsWith(' install ok installed'))
      .map((l) => l.split(' ')[0]),
  );
  return LAB_PACKAGES.filter((p) => !installed.has(p));
}

export async function ensureLabPackages(): Promise<void> {
  const missing = await missingLabPackages();
  if (!missing.length) return;
  // Keep apt from starting sshd, nginx, etcd… in the root namespace: the lab starts its own, per host.
  try {
    await access('/usr/sbin/policy-rc.d');
  } catch {
    await writeFile('/usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n');
    await chmod('/usr/sbin/policy-rc.d', 0o755);
  }
  process.stderr.write(`lab: installing ${missing.join(' ')}\n`);
  await run('apt-get', ['update', '-q']);
  await run('apt-get', ['install', '-y', '-q', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}
