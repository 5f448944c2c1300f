// The quorum check before each `member remove` (src/activities/etcd.ts removalQuorumProblem).
import { describe, expect, it } from 'vitest';
import { removalQuorumProblem } from '../../../src/activities/etcd.js';

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
