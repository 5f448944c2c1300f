// The small parts of the Ansible reader on their own: INI tokens and values, host ranges, the Jinja2 subset,
// SSH argument parsing and the IPv4 arithmetic the rules use.
import { describe, expect, it } from 'vitest';
import { expandHostPattern, parseIni, parseValue, tokenize } from '../../../src/inventory/ansible-ini.js';
import { buildGroupGraph } from '../../../src/inventory/ansible-groups.js';
import { resolveTemplate } from '../../../src/inventory/ansible-template.js';
import { parseSshArgs } from '../../../src/inventory/ansible-vars.js';
import { contains, hasHostBits, overlaps, parseCidr, parseIpv4 } from '../../../src/inventory/ipv4.js';

describe('INI lines', () => {
  it('splits like shlex: quotes group, # at a token start is a comment', () => {
    expect(tokenize(`m1 ansible_host=10.0.0.1 ansible_ssh_common_args='-J a@b' # note`)).toEqual([
      { text: 'm1', start: 0 },
      { text: 'ansible_host=10.0.0.1', start: 3 },
      { text: 'ansible_ssh_common_args=-J a@b', start: 25 },
    ]);
    expect(tokenize('x a=b#c')).toEqual([
      { text: 'x', start: 0 },
      { text: 'a=b#c', start: 2 },
    ]);
  });
  it('types values like literal_eval', () => {
    expect(parseValue('2222')).toBe(2222);
    expect(parseValue('True')).toBe(true);
    expect(parseValue('yes')).toBe('yes');
    expect(parseValue('"22"')).toBe('22');
    expect(parseValue('010')).toBe('010');
    expect(parseValue('1.30')).toBe(1.3);
  });
  it('expands numeric and alphabetic host ranges, keeping leading zeros', () => {
    expect(expandHostPattern('web[01:03].lab')).toEqual(['web01.lab', 'web02.lab', 'web03.lab']);
    expect(expandHostPattern('db-[a:c]')).toEqual(['db-a', 'db-b', 'db-c']);
    expect(expandHostPattern('n[1:5:2]')).toEqual(['n1', 'n3', 'n5']);
    expect(expandHostPattern('n[3:1]')).toEqual({ error: 'host range [3:1] is empty' });
  });
  it('takes host:port as ansible_port and keeps first-seen host order', () => {
    const inv = parseIni('[b]\nz:2222\n[a]\ny\nz\n', 'hosts');
    expect(inv.hostOrder).toEqual(['z', 'y']);
    expect(inv.groups.get('b')?.hosts[0]?.vars).toEqual([
      expect.objectContaining({
        name: 'ansible_port',
        value: 2222,
        site: expect.objectContaining({ value: { file: 'hosts', line: 2, column: 3 } }) as unknown,
      }),
    ]);
  });
  it('computes group depth and transitive membership', () => {
    const inv = parseIni('[a]\nh1\n[b:children]\na\n[c:children]\nb\n', 'hosts');
    const g = buildGroupGraph(inv);
    expect(g.issues).toEqual([]);
    expect([g.depth.get('all'), g.depth.get('c'), g.depth.get('b'), g.depth.get('a')]).toEqual([0, 1, 2, 3]);
    expect([...(g.groupsOf.get('h1') ?? [])].sort()).toEqual(['a', 'all', 'b', 'c']);
    expect(g.hostsOf('c')).toEqual(['h1']);
  });
  it('names every group of a cycle', () => {
    const g = buildGroupGraph(parseIni('[a:children]\nb\n[b:children]\nc\n[c:children]\na\n', 'hosts'));
    expect(g.issues.map((i) => `${i.line} ${i.message}`)).toEqual(['6 group cycle: a → b → c → a']);
  });
});

describe('Jinja2 subset', () => {
  const scope = {
    lookup: (n: string): unknown => ({ A: '1', B: '{{ A }}.30', PORT: 8443, LOOP: '{{ LOOP }}' })[n],
    hostsOf: (g: string) => (g === 'apiserver_vip' ? ['10.0.0.50'] : []),
  };
  it('resolves variables (nested) and groups[…][n]', () => {
    expect(resolveTemplate('{{ B }}.2', scope)).toEqual({ value: '1.30.2', used: ['B', 'A'] });
    expect(resolveTemplate("{{ groups['apiserver_vip'][0] }}", scope)).toEqual({ value: '10.0.0.50', used: [] });
    expect(resolveTemplate('{{ PORT }}', scope)).toEqual({ value: 8443, used: ['PORT'] });
  });
  it('refuses what it does not evaluate, loops and unknown names', () => {
    expect(resolveTemplate('{{ A | int }}', scope)).toEqual({
      error: expect.stringMatching(/\{\{ A \| int \}\} is beyond/) as unknown,
    });
    expect(resolveTemplate('{{ LOOP }}', scope)).toEqual({ error: 'variables refer to each other in a loop' });
    expect(resolveTemplate('{{ NOPE }}', scope)).toEqual({ error: '{{ NOPE }} refers to NOPE, which is not set' });
    expect(resolveTemplate("{{ groups['masters'][0] }}", scope)).toEqual({
      error: expect.stringMatching(/group masters has no host #0/) as unknown,
    });
  });
});

describe('SSH arguments', () => {
  it('takes ProxyJump from -J and -o, and reports the rest', () => {
    expect(parseSshArgs('-J jump@b:2222')).toEqual({ bastion: 'jump@b:2222', rest: [] });
    expect(parseSshArgs('-o ProxyJump=b -o StrictHostKeyChecking=no')).toEqual({
      bastion: 'b',
      rest: ['-o StrictHostKeyChecking=no'],
    });
    expect(parseSshArgs('-oProxyJump=b -C')).toEqual({ bastion: 'b', rest: ['-C'] });
  });
});

describe('IPv4', () => {
  it('parses, contains and overlaps', () => {
    expect(parseIpv4('10.200.0.256')).toBeUndefined();
    const pod = parseCidr('10.244.0.0/16');
    expect(pod).toEqual({ base: parseIpv4('10.244.0.0'), prefix: 16 });
    expect(pod && contains(pod, parseIpv4('10.244.255.1') ?? 0)).toBe(true);
    expect(overlaps(parseCidr('10.96.0.0/12')!, parseCidr('10.100.0.0/16')!)).toBe(true);
    expect(overlaps(parseCidr('10.96.0.0/12')!, parseCidr('10.112.0.0/16')!)).toBe(false);
    expect(hasHostBits(parseCidr('10.244.1.0/16')!)).toBe(true);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
  });
});
