// Everything a lab host is made of on disk, under $LAB/hosts/hN: overlay upper dirs (its private /etc, /var,
// /usr, /opt), its /root (from /etc/skel; never the operator's real home, which holds credentials and a slow
// .bashrc), its /tmp, and in upper/etc its identity: hostname, machine-id, /etc/hosts, an ed25519 host key and an
// sshd_config of our own (written whole, not appended to the machine's, because sshd takes the first value of an
// option it reads).
import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostAddress, hostName } from './names.js';
import { writeEd25519KeyPair } from './openssh-key.js';

export const OVERLAID = ['etc', 'var', 'usr', 'opt'] as const;

export const hostDir = (labDir: string, index: number): string => join(labDir, 'hosts', hostName(index));

function sshdConfig(address: string): string {
  return [
    '# kubeadm2ha lab host: written by lab/host-files.ts',
    `ListenAddress ${address}`,
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'UseDNS no',
    'PrintMotd no',
    // Tests open many connections at once (20 hosts × parallel probes); the defaults (10:30:100, 10) drop them.
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'PidFile /run/sshd.pid',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

/** Lay out host `index` of an `n`-host lab; returns its `address ssh-ed25519 AAAA…` known_hosts line. */
export async function prepareHost(
  labDir: string,
  id: number,
  index: number,
  n: number,
  clientPub: string,
): Promise<string> {
  const h = hostDir(labDir, index);
  const etc = join(h, 'upper', 'etc');
  const name = hostName(index);
  const address = hostAddress(id, index);
  await Promise.all([
    ...OVERLAID.map((d) => mkdir(join(h, 'upper', d), { recursive: true })),
    ...OVERLAID.map((d) => mkdir(join(h, 'ovlwork', d), { recursive: true })),
    mkdir(join(h, 'tmp'), { recursive: true }),
    mkdir(join(h, 'containerd'), { recursive: true }),
    mkdir(join(etc, 'ssh'), { recursive: true }),
  ]);
  await cp('/etc/skel', join(h, 'root'), { recursive: true });
  await mkdir(join(h, 'root', '.ssh'), { recursive: true, mode: 0o700 });
  const hosts = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback'];
  for (let j = 1; j <= n; j++) hosts.push(`${hostAddress(id, j)} ${hostName(j)}`);
  const [hostKey] = await Promise.all([
    writeEd25519KeyPair(join(etc, 'ssh', 'ssh_host_ed25519_key'), name),
    chmod(join(h, 'tmp'), 0o1777),
    chmod(join(h, 'root'), 0o700),
    writeFile(join(h, 'root', '.ssh', 'authorized_keys'), `${clientPub}\n`, { mode: 0o600 }),
    writeFile(join(etc, 'hostname'), `${name}\n`),
    // systemd's format: 32 lower-case hex digits. Unique per host, as kubeadm and the preflight check expect.
    writeFile(join(etc, 'machine-id'), `${randomBytes(16).toString('hex')}\n`, { mode: 0o444 }),
    writeFile(join(etc, 'hosts'), hosts.join('\n') + '\n'),
    writeFile(join(etc, 'ssh', 'sshd_config'), sshdConfig(address)),
  ]);
  const [type, key] = hostKey.split(' ');
  return `${address} ${type} ${key}`;
}

/** `ssh -F <this> h3 …` works from the operator machine with the lab's key and strict host-key checking. */
export function sshConfigText(id: number, n: number, identityFile: string, knownHostsFile: string): string {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) lines.push(`Host ${hostName(i)}`, `  HostName ${hostAddress(id, i)}`, '');
  lines.push(
    `Host h* 10.200.${id}.*`,
    '  User root',
    `  IdentityFile ${identityFile}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${knownHostsFile}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  BatchMode yes',
    '  ConnectTimeout 5',
    '  LogLevel ERROR',
    '',
  );
  return lines.join('\n');
}

/**
 * PID 1 of a host: runs inside the host's netns (nsenter) and fresh pid/mount/uts namespaces (unshare), builds
 * the host's filesystem view, then becomes sshd. Arguments: name, host dir, prepare (1 = first boot of a
 * prepared lab: set the sysctls kubeadm's preflight wants, in this netns only).
 */
export const HOST_INIT = `#!/bin/bash
set -euo pipefail
name=$1 H=$2 prepare=$3
exec >>"$H/init.log" 2>&1
printf '%(%FT%T)T boot %s (pid %s)\\n' -1 "$name" "$$"
# Builtins where a tool would do: under load every exec costs tens of milliseconds, times hosts.
echo "$name" >/proc/sys/kernel/hostname
if [ "$prepare" = 1 ]; then
  # ip_forward here forwards only between this netns's interfaces (eth0 and lo, no default route): nothing leaves
  # 10.200.0.0/16. bridge-nf-call-iptables is per netns since Linux 5.3.
  echo 1 >/proc/sys/net/ipv4/ip_forward
  echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
fi
cgroup=0
while read -r _ _ _ _ mp _; do [ "$mp" = /sys/fs/cgroup ] && cgroup=1; done </proc/self/mountinfo
# Own sysfs (shows this netns's devices) with the machine's cgroup mounts moved back in: runc needs them.
if [ $cgroup = 1 ]; then mkdir -p "$H/cg"; mount --rbind /sys/fs/cgroup "$H/cg"; fi
mount -t sysfs "k2h-$name-sys" /sys
if [ $cgroup = 1 ]; then mount --move "$H/cg" /sys/fs/cgroup; fi
# Software visible, writes private.
for d in etc var usr opt; do
  mount -t overlay "k2h-$name-$d" -o "lowerdir=/$d,upperdir=$H/upper/$d,workdir=$H/ovlwork/$d" "/$d"
done
# containerd's overlayfs snapshotter cannot mount on an overlayfs /var: give it a plain directory.
mkdir -p /var/lib/containerd
mount --bind "$H/containerd" /var/lib/containerd
mount --bind "$H/root" /root
mount -t tmpfs -o mode=755 "k2h-$name-run" /run
mkdir /run/sshd
# Last: this hides the lab directory (under /tmp) from the host.
mount --bind "$H/tmp" /tmp
cd /
# What an init system starts at boot (containerd, the kubelet unit on Kubernetes lab hosts): each script starts
# its daemon in the background and returns. A host that is stopped and started again comes back with them.
for f in /etc/k2h-lab/boot.d/*; do
  if [ -x "$f" ]; then "$f" || printf '%(%FT%T)T boot script %s failed\\n' -1 "$f"; fi
done
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
`;
