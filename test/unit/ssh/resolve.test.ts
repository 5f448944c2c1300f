import { describe, expect, it } from 'vitest';
import { SshSettings } from '../../../src/inventory/schema.js';
import { resolveTarget } from '../../../src/ssh/resolve.js';
import { parseSshConfig } from '../../../src/ssh/ssh-config.js';

const config = parseSshConfig(`
Host m1
  User cfguser
  Port 2222
  IdentityFile ~/.ssh/cfg_%h
  ProxyJump jumper
Host jumper
  HostName 10.0.0.99
  User jumpuser
`);

describe('connection settings precedence', () => {
  it('host.ssh beats inventory ssh beats ssh config beats defaults', () => {
    const defaults = SshSettings.parse({});
    const fromConfig = resolveTarget({ name: 'm1', address: '10.0.0.1' }, defaults, config, '/h');
    expect(fromConfig.target).toMatchObject({
      user: 'cfguser',
      port: 2222,
      identityFiles: ['/h/.ssh/cfg_10.0.0.1'],
      explicitIdentity: false,
    });
    expect(fromConfig.jump).toMatchObject({ host: '10.0.0.99', user: 'jumpuser', port: 22, aliases: ['jumper'] });

    const inventory = SshSettings.parse({ user: 'ops', port: 2200, identityFile: '/keys/id', bastion: 'none' });
    const fromInventory = resolveTarget({ name: 'm1', address: '10.0.0.1' }, inventory, config, '/h');
    expect(fromInventory.target).toMatchObject({
      user: 'ops',
      port: 2200,
      identityFiles: ['/keys/id'],
      explicitIdentity: true,
    });
    expect(fromInventory.jump).toBeUndefined();

    const fromHost = resolveTarget(
      { name: 'm1', address: '10.0.0.1', user: 'me', port: 22, identityFile: '/k2', bastion: 'b@10.0.0.7:2022' },
      inventory,
      config,
      '/h',
    );
    expect(fromHost.target).toMatchObject({ user: 'me', port: 22, identityFiles: ['/k2'] });
    expect(fromHost.jump).toMatchObject({ host: '10.0.0.7', user: 'b', port: 2022 });
  });

  it('falls back to root@:22 and keeps the inventory address over HostName', () => {
    const r = resolveTarget(
      { name: 'w1', address: 'w1.example' },
      SshSettings.parse({}),
      parseSshConfig('Host w1\n HostName other\n'),
      '/h',
    );
    expect(r.target).toMatchObject({ host: 'w1.example', user: 'root', port: 22, identityFiles: [], aliases: ['w1'] });
  });

  it('refuses multi-hop ProxyJump', () => {
    expect(() => resolveTarget({ name: 'x', address: 'x', bastion: 'a,b' }, SshSettings.parse({}), [], '/h')).toThrow(
      /one hop/,
    );
  });
});
