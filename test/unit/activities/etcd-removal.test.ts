// The quorum check before each `member remove` (src/activities/etcd.ts removalQuorumProblem).
import { describe, expect, it } from 'vitest';
import { removalQuorumProblem, removedHostProblem } from '../../../src/activities/etcd.js';
import { renderEtcdConfig } from '../../../src/activities/etcd-config.js';
import { planEtcdSetup } from '../../../src/plan/etcd.js';
import { Inventory } from '../../../src/inventory/schema.js';

const m = (name: string, id = name) => ({ id, name, peerUrls: [], clientUrls: [`https://${name}:2379`] });
const up = (...names: string[]) => names.map((n) => ({ endpoint: `https://${n}:2379`, health: true }));

describe('removing an etcd member keeps a healthy quorum of the rest', () => {
  it('allows it when the members left have a healthy majority, whatever the leaving one is', () => {
    const five = ['a', 'b', 'c', 'd', 'e'].map((n) => m(n));
    expect(removalQuorumProblem(five, 'e', up('a', 'b', 'c'))).toBeUndefined();
    expect(removalQuorumProblem(five.slice(0, 4), 'd', up('a', 'b'))).toBeUndefined();
  });

  it('refuses, naming healthy and not healthy members, when it would not', () => {
    const four = ['a', 'b', 'c', 'd'].map((n) => m(n));
    expect(removalQuorumProblem(four, 'd', up('a', 'd'))).toBe(
      'removing it would leave 3 member(s) with 1 healthy (a), below the quorum of 2; not healthy: b, c',
    );
    // An added member that never started has no name: it is named by id.
    expect(removalQuorumProblem([m('a'), m('', 'f00d'), m('x')], 'x', up('a'))).toContain('not healthy: f00d');
  });
});

describe('stopping a removed member only on its own host', () => {
  const inv = Inventory.parse({
    cluster: { name: 'lab', kubernetesVersion: '1.34.12', vip: { address: '10.200.1.100' } },
    hosts: [
      { name: 'm1', address: '10.200.1.11', roles: ['primary-master'] },
      { name: 'e3', address: '10.200.1.13', roles: ['etcd'] },
    ],
  });
  // The config configureEtcd writes for e3 at its new address.
  const e3 = renderEtcdConfig(planEtcdSetup(inv).members[0]!.config, 'new');
  const old = { id: 'a3', peerUrls: ['https://10.200.1.3:2380'] };

  it("goes ahead where the config advertises the member's peer URL, or was set aside for it already", () => {
    expect(removedHostProblem(e3, false, { id: 'a3', peerUrls: ['https://10.200.1.13:2380'] })).toBeUndefined();
    expect(removedHostProblem(undefined, true, old)).toBeUndefined();
  });

  it('refuses, stopping nothing, where another member runs (re-addressed host) or there is no etcd config', () => {
    expect(removedHostProblem(e3, false, old)).toBe(
      "/etc/etcd/etcd.conf.yml advertises https://10.200.1.13:2380, not removed member a3's https://10.200.1.3:2380: " +
        'another member runs here; nothing stopped',
    );
    expect(removedHostProblem(undefined, false, old)).toMatch(/^no etcd config at \/etc\/etcd\/etcd.conf.yml/);
  });
});
