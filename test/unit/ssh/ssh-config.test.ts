import { describe, expect, it } from 'vitest';
import {
  expandPath,
  hostPatternsMatch,
  parseJumpSpec,
  parseSshConfig,
  resolveSshConfig,
} from '../../../src/ssh/ssh-config.js';

const text = `
# global
User fallback
Host bastion
  HostName 192.0.2.10
  Port 2200
  User jump
Host m? !m9
  HostName 10.0.0.1%h
  IdentityFile ~/.ssh/cluster_%r
  ProxyJump bastion
Host m9
  Port 9999
Host *
  User=everyone
  IdentityFile "~/.ssh/id with space"
  StrictHostKeyChecking no
Match host m1
  User matched
`;

describe('ssh config', () => {
  const blocks = parseSshConfig(text);

  it('matches Host patterns with * ? and !negation', () => {
    expect(hostPatternsMatch(['m?', '!m9'], 'm1')).toBe(true);
    expect(hostPatternsMatch(['m?', '!m9'], 'm9')).toBe(false);
    expect(hostPatternsMatch(['m?'], 'm10')).toBe(false);
    expect(hostPatternsMatch(['*.LAB'], 'x.lab')).toBe(true);
    expect(hostPatternsMatch(['!m1'], 'm2')).toBe(false); // a lone negation never selects a block
  });

  it('takes the first value of each option, accumulating IdentityFile', () => {
    expect(resolveSshConfig(blocks, 'm1')).toEqual({
      hostName: '10.0.0.1%h',
      user: 'fallback',
      identityFiles: ['~/.ssh/cluster_%r', '~/.ssh/id with space'],
      proxyJump: 'bastion',
    });
    expect(resolveSshConfig(blocks, 'm9')).toEqual({
      user: 'fallback',
      port: 9999,
      identityFiles: ['~/.ssh/id with space'],
    });
    expect(resolveSshConfig(blocks, 'bastion')).toMatchObject({ hostName: '192.0.2.10', port: 2200, user: 'fallback' });
  });

  it('never applies Match blocks or StrictHostKeyChecking', () => {
    const only = parseSshConfig(
      'Host a\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\nMatch all\n  User x\n',
    );
    expect(resolveSshConfig(only, 'a')).toEqual({ identityFiles: [] });
    expect(resolveSshConfig(blocks, 'm1').user).not.toBe('matched');
  });

  it('expands ~ and %-tokens in paths', () => {
    const t = { host: '10.0.0.1', user: 'ops', port: 22, alias: 'm1' };
    expect(expandPath('~/.ssh/%r@%h:%p-%n%%', t, '/home/me')).toBe('/home/me/.ssh/ops@10.0.0.1:22-m1%');
    expect(expandPath('/k/%d', t, '/home/me')).toBe('/k//home/me');
  });

  it('parses one-hop jump specs', () => {
    expect(parseJumpSpec('bastion')).toEqual({ host: 'bastion' });
    expect(parseJumpSpec('ops@10.0.0.5:2222')).toEqual({ user: 'ops', host: '10.0.0.5', port: 2222 });
    expect(parseJumpSpec('a,b')).toBeUndefined();
  });
});
