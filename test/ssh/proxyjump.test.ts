// Reaching a host through a bastion (ProxyJump): the target's SSH connection runs inside a direct-tcpip channel
// of the bastion's connection. Proof that the path really goes through the bastion: the target sees the bastion's
// address as the client ($SSH_CONNECTION), not the operator's bridge address.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab, type LabHost } from '../../lab/index.js';
import { HostKeyUnknownError, KubeadmHaError } from '../../src/errors.js';
import { labPool, target } from './helpers.js';

let lab: Lab;
let h1: LabHost;
let h2: LabHost;
let h3: LabHost;

beforeAll(async () => {
  lab = await createLab({ hosts: 3, prepared: false });
  [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
});
afterAll(() => lab?.destroy());

/** The client address the host sees for our session. */
const clientAddress = (out: string): string => out.trim().split(' ')[0] ?? '';

describe('ProxyJump / bastion', () => {
  it('reaches h3 through h1 given as the inventory bastion, with one connection per hop', async () => {
    const pool = await labPool(lab, { bastion: `root@${h1.address}` });
    try {
      const s = pool.session(target(lab, 'h3'));
      const r = await s.run(['sh', '-c', 'hostname; echo $SSH_CONNECTION']);
      const [name, conn] = r.stdout.split('\n');
      expect(name).toBe('h3');
      expect(clientAddress(conn ?? '')).toBe(h1.address);
      await Promise.all(Array.from({ length: 10 }, () => s.run(['true'])));
      await s.putFile('/tmp/through-bastion', 'ok\n', { mode: 0o600 });
      expect((await s.getFile('/tmp/through-bastion')).toString()).toBe('ok\n');
      expect(pool.stats().map((x) => [x.key, x.connects])).toEqual(
        expect.arrayContaining([
          [`root@${h1.address}:22`, 1],
          [`root@${h3.address}:22 via root@${h1.address}:22`, 1],
        ]),
      );
    } finally {
      await pool.closeAll();
    }
  });

  it('takes ProxyJump, HostName, User and IdentityFile from an ssh config file', async () => {
    const configFile = join(lab.dir, 'proxyjump.ssh_config');
    await writeFile(
      configFile,
      [
        'Host h3',
        '  ProxyJump jumpbox',
        'Host jumpbox',
        `  HostName ${h1.address}`,
        '  User root',
        `  IdentityFile ${lab.privateKeyPath}`,
        '',
      ].join('\n'),
    );
    const pool = await labPool(lab, { configFile });
    try {
      const r = await pool.session(target(lab, 'h3')).run(['sh', '-c', 'echo $SSH_CONNECTION']);
      expect(clientAddress(r.stdout)).toBe(h1.address);
      // h2 has no ProxyJump in that config: it is reached directly, from the operator's side of the bridge.
      const direct = await pool.session(target(lab, 'h2')).run(['sh', '-c', 'echo $SSH_CONNECTION']);
      expect(clientAddress(direct.stdout)).toBe(lab.bridgeAddress);
    } finally {
      await pool.closeAll();
    }
  });

  it('checks the bastion host key too: an unknown bastion is refused before the target is tried', async () => {
    const knownHostsFile = join(lab.dir, 'only-h3.known_hosts');
    const lines = (await readFile(lab.knownHostsPath, 'utf8')).split('\n');
    await writeFile(knownHostsFile, lines.filter((l) => l.startsWith(`${h3.address} `)).join('\n') + '\n');
    const pool = await labPool(lab, { bastion: `root@${h1.address}`, knownHostsFile });
    try {
      const err = await pool
        .session(target(lab, 'h3'))
        .run(['touch', '/tmp/should-not-exist'])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostKeyUnknownError);
      expect((err as Error).message).toMatch(/^h3 \(via bastion .*\): host key ssh-ed25519 SHA256:/);
      expect((await lab.exec('h3', 'test -e /tmp/should-not-exist', { allowFail: true })).code).not.toBe(0);
    } finally {
      await pool.closeAll();
    }
  });

  it('refuses host strings that are not host names before any hop sees them, and writes no known_hosts line', async () => {
    // Under accept-new, the address becomes the pattern of the line recorded for the new key: a newline would add
    // lines of the sender's choosing, "*" would trust the new key for every host. Debian's resolver on the bastion
    // refuses such names (so this lab cannot show the write itself; test/unit/ssh/host-names.test.ts checks the
    // known_hosts sink directly), but the worker must not rely on the bastion: the string is refused before any hop.
    const knownHostsFile = join(lab.dir, 'injection.known_hosts');
    const bastionOnly =
      (await readFile(lab.knownHostsPath, 'utf8'))
        .split('\n')
        .filter((l) => l.startsWith(`${h1.address} `))
        .join('\n') + '\n';
    await writeFile(knownHostsFile, bastionOnly);
    const pool = await labPool(lab, { bastion: `root@${h1.address}`, knownHostsFile, hostKeyPolicy: 'accept-new' });
    try {
      for (const address of ['*', `${h3.address}\n* ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 #`]) {
        const err = await pool
          .session(target(lab, 'h3', { address }))
          .run(['touch', '/tmp/injected'])
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(KubeadmHaError);
        expect((err as KubeadmHaError).type, (err as Error).message).toBe('InvalidInput');
        expect((err as Error).message).toContain(`h3: address ${JSON.stringify(address)} is not a host name`);
      }
      expect(pool.stats()).toEqual([]); // not even the bastion was contacted
      expect(await readFile(knownHostsFile, 'utf8')).toBe(bastionOnly);
      expect((await lab.exec('h3', 'test -e /tmp/injected', { allowFail: true })).code).not.toBe(0);
    } finally {
      await pool.closeAll();
    }
  });

  it('reconnects both hops when the bastion connection drops', async () => {
    const pool = await labPool(lab, { bastion: `root@${h1.address}` });
    try {
      const s = pool.session(target(lab, 'h3'));
      await s.run(['true']);
      // Kill the sshd on h1 that serves us (the client is the operator's bridge address).
      await lab.exec(
        'h1',
        `ss -tnpH state established '( sport = :22 and dst ${lab.bridgeAddress} )' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | xargs kill -9`,
      );
      const r = await s.run(['sh', '-c', 'echo $SSH_CONNECTION']);
      expect(clientAddress(r.stdout)).toBe(h1.address);
      expect(pool.stats().every((x) => x.connects === 2)).toBe(true);
    } finally {
      await pool.closeAll();
    }
  });

  it('says which hop failed when the bastion does not allow TCP forwarding', async () => {
    await lab.exec('h2', "echo 'AllowTcpForwarding no' >> /etc/ssh/sshd_config");
    await lab.stopHost('h2');
    await lab.startHost('h2');
    const pool = await labPool(lab, { bastion: `root@${h2.address}`, connectTimeoutSeconds: 5 });
    try {
      const err = await pool
        .session(target(lab, 'h3'))
        .run(['true'])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeadmHaError);
      expect((err as KubeadmHaError).retryable).toBe(false); // a person has to change the bastion's sshd_config
      expect((err as Error).message).toBe(
        `h3: bastion root@${h2.address}:22 could not open a connection to ${h3.address}:22: ` +
          'administratively prohibited (AllowTcpForwarding or PermitOpen on the bastion)',
      );
    } finally {
      await pool.closeAll();
    }
  });
});
