// SSH trust is the worker's (src/activities/ssh-trust.ts): the input plans (user, port, bastion, timeouts), the
// worker's trust decides host keys and keys, whatever the input says about them.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SSH_TRUST, sshTrustOf, trustedTarget, withTrust } from '../../../src/activities/ssh-trust.js';
import { SshSettings } from '../../../src/inventory/schema.js';
import { workerSshTrust } from '../../../src/cli/commands/worker.js';

const fromInput = SshSettings.parse({
  user: 'ops',
  port: 2222,
  bastion: 'jump.example.com',
  hostKeyPolicy: 'accept-new',
  knownHostsFile: '/tmp/attacker-known_hosts',
  identityFile: '/etc/ssh/ssh_host_ed25519_key',
  configFile: '/tmp/attacker-ssh_config',
  useAgent: true,
});

describe('worker-side SSH trust', () => {
  it("keeps the input's plan and replaces every trust field by the worker's", () => {
    const worker = { hostKeyPolicy: 'strict' as const, knownHostsFile: '/w/known_hosts', useAgent: false };
    expect(withTrust(fromInput, worker)).toEqual({
      ...SshSettings.parse({ user: 'ops', port: 2222, bastion: 'jump.example.com' }),
      hostKeyPolicy: 'strict',
      knownHostsFile: '/w/known_hosts',
      useAgent: false,
    });
    // Defaults: strict, and no path from the input survives (the pool then uses ~/.ssh of the worker's user).
    const d = withTrust(fromInput, DEFAULT_SSH_TRUST);
    expect(d.hostKeyPolicy).toBe('strict');
    expect([d.knownHostsFile, d.identityFile, d.configFile]).toEqual([undefined, undefined, undefined]);
  });

  it("drops a target's identityFile from the input and uses the worker's key for that host", () => {
    const target = { name: 'm1', address: '10.0.0.1', roles: ['etcd' as const], identityFile: '/etc/shadow' };
    expect(trustedTarget(target, DEFAULT_SSH_TRUST)).toEqual({ name: 'm1', address: '10.0.0.1', roles: ['etcd'] });
    expect(trustedTarget(target, { ...DEFAULT_SSH_TRUST, hostIdentityFiles: { m1: '/w/m1_key' } }).identityFile).toBe(
      '/w/m1_key',
    );
  });

  it('an inventory the worker was given expresses its trust, per-host keys included', () => {
    const trust = sshTrustOf({
      ssh: fromInput,
      hosts: [{ name: 'm1', address: '10.0.0.1', roles: ['etcd'], ssh: { identityFile: '/k/m1' } }],
    });
    expect(trust).toMatchObject({
      hostKeyPolicy: 'accept-new',
      knownHostsFile: '/tmp/attacker-known_hosts',
      hostIdentityFiles: { m1: '/k/m1' },
    });
  });

  it('`kubeadm2ha worker` flags: strict by default, flags over an inventory, bad policy refused', async () => {
    const base = { taskQueue: 'q' };
    expect(await workerSshTrust(base)).toEqual(DEFAULT_SSH_TRUST);
    expect(
      await workerSshTrust({
        ...base,
        knownHosts: '/w/kh',
        identity: '/w/id',
        hostKeyPolicy: 'accept-new',
        agent: false,
      }),
    ).toEqual({ hostKeyPolicy: 'accept-new', knownHostsFile: '/w/kh', identityFile: '/w/id', useAgent: false });
    await expect(workerSshTrust({ ...base, hostKeyPolicy: 'yes' })).rejects.toThrow(/strict or accept-new/);
  });
});
