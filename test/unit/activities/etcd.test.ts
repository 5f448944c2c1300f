// Pure parts of the etcd activities: config rendering, etcdctl output parsing, version picking, service files.
// Real etcd outputs below were captured from Debian's etcd 3.4.23 (`-w json`).
import { execFileSync, spawn } from 'node:child_process';
import { freePort } from '../../../src/temporal/process-util.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  chooseInitialClusterState,
  initialClusterStateOf,
  keptInitialCluster,
  renderEtcdConfig,
} from '../../../src/activities/etcd-config.js';
import {
  describePeerRejections,
  etcdServiceSpec,
  madisonEntries,
  parseEtcdVersion,
  peerRejections,
  pickVersion,
} from '../../../src/activities/etcd.js';
import {
  emptyMemberAction,
  etcdctlArgv,
  joinInitialCluster,
  membersNotStarted,
  parseEndpointHealth,
  parseMemberList,
  staticMemberId,
  type MemberList,
} from '../../../src/activities/etcdctl.js';
import {
  ensureService,
  renderEnvFile,
  renderUnit,
  systemdWord,
  type ServiceManager,
} from '../../../src/activities/services/index.js';
import { Inventory } from '../../../src/inventory/schema.js';
import { planEtcdSetup } from '../../../src/plan/etcd.js';

const plan = planEtcdSetup(
  Inventory.parse({
    cluster: { name: 'lab', kubernetesVersion: '1.32.4', vip: { address: '10.200.1.100' } },
    hosts: [
      { name: 'h1', address: '10.200.1.11', roles: ['primary-master', 'etcd'] },
      { name: 'h2', address: '10.200.1.12', roles: ['etcd'] },
      { name: 'h3', address: '10.200.1.13', roles: ['etcd'] },
    ],
  }),
);
const h1 = plan.members[0]!;

describe('etcd config file', () => {
  it('holds every setting under the key etcd reads, TLS on both sides', () => {
    const doc = parse(renderEtcdConfig(h1.config, 'new')) as Record<string, unknown>;
    expect(doc).toMatchObject({
      name: 'h1',
      'data-dir': '/var/lib/etcd',
      'listen-client-urls': 'https://10.200.1.11:2379,https://127.0.0.1:2379',
      'advertise-client-urls': 'https://10.200.1.11:2379',
      'listen-peer-urls': 'https://10.200.1.11:2380',
      'initial-advertise-peer-urls': 'https://10.200.1.11:2380',
      'initial-cluster': 'h1=https://10.200.1.11:2380,h2=https://10.200.1.12:2380,h3=https://10.200.1.13:2380',
      'initial-cluster-state': 'new',
      'client-transport-security': {
        'client-cert-auth': true,
        'trusted-ca-file': '/etc/kubernetes/pki/etcd/ca.crt',
        'cert-file': '/etc/kubernetes/pki/etcd/server.crt',
        'key-file': '/etc/kubernetes/pki/etcd/server.key',
      },
      'peer-transport-security': {
        'client-cert-auth': true,
        'cert-file': '/etc/kubernetes/pki/etcd/peer.crt',
        'key-file': '/etc/kubernetes/pki/etcd/peer.key',
      },
    });
  });

  it('is byte-identical for the same plan (a rerun must not rewrite it)', () => {
    expect(renderEtcdConfig(h1.config, 'new')).toBe(renderEtcdConfig(structuredClone(h1.config), 'new'));
  });

  it('keeps the state it was written with once the member has data, and says existing for foreign data', () => {
    expect(chooseInitialClusterState(false, undefined)).toBe('new');
    expect(chooseInitialClusterState(false, 'existing')).toBe('new');
    expect(chooseInitialClusterState(true, 'new')).toBe('new');
    expect(chooseInitialClusterState(true, undefined)).toBe('existing');
    expect(initialClusterStateOf(renderEtcdConfig(h1.config, 'existing'))).toBe('existing');
    expect(initialClusterStateOf('not: [yaml')).toBeUndefined();
    expect(initialClusterStateOf(undefined)).toBeUndefined();
  });

  it("keeps the initial-cluster a member with data started with (etcd ignores it then), else the plan's", () => {
    const joined = renderEtcdConfig({ ...h1.config, initialCluster: 'h1=https://10.200.1.11:2380' }, 'existing');
    expect(keptInitialCluster(true, joined, h1.config.initialCluster)).toBe('h1=https://10.200.1.11:2380');
    // No data yet: what the plan (or the join) says.
    expect(keptInitialCluster(false, joined, h1.config.initialCluster)).toBe(h1.config.initialCluster);
    // A file that is not ours, or none.
    expect(keptInitialCluster(true, 'initial-cluster: x=https://a:2380\n', 'p')).toBe('p');
    expect(keptInitialCluster(true, undefined, 'p')).toBe('p');
  });

  it('is accepted by the real etcd binary (parses and validates, then stops at the missing certificate)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k2h-etcdcfg-'));
    try {
      const file = join(dir, 'etcd.conf.yml');
      // Point the certificates at files that do not exist: etcd must get past parsing and fail on those instead.
      const cfg = {
        ...h1.config,
        dataDir: join(dir, 'data'),
        tls: { ...h1.config.tls, certFile: join(dir, 'nope.crt') },
      };
      writeFileSync(file, renderEtcdConfig(cfg, 'new'));
      let out = '';
      try {
        execFileSync('etcd', ['--config-file', file], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 10_000,
        });
      } catch (err) {
        out = String((err as { stderr?: string }).stderr);
      }
      expect(out).not.toMatch(/error unmarshaling|unknown field|invalid/i);
      expect(out).toContain('loaded server configuration');
      expect(out).toMatch(/nope\.crt|no such file|cannot assign requested address/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('etcdctl output', () => {
  it('asks for JSON with a short command timeout and TLS client auth', () => {
    const argv = etcdctlArgv(plan.healthcheckClient, plan.endpoints, ['endpoint', 'health']);
    expect(argv.slice(0, 3)).toEqual(['env', 'ETCDCTL_API=3', 'etcdctl']);
    expect(argv.join(' ')).toContain(
      '--endpoints https://10.200.1.11:2379,https://10.200.1.12:2379,https://10.200.1.13:2379',
    );
    expect(argv.join(' ')).toContain('--command-timeout 1s -w json endpoint health');
    expect(argv).toContain('/etc/kubernetes/pki/etcd/healthcheck-client.key');
  });

  it('parses endpoint health with one member down', () => {
    const out =
      '[{"endpoint":"https://10.200.1.11:2379","health":true,"took":"13.6ms"},' +
      '{"endpoint":"https://10.200.1.12:2379","health":false,"took":"1.0s","error":"context deadline exceeded"}]';
    expect(parseEndpointHealth(out)).toEqual([
      { endpoint: 'https://10.200.1.11:2379', health: true },
      { endpoint: 'https://10.200.1.12:2379', health: false, error: 'context deadline exceeded' },
    ]);
    expect(parseEndpointHealth('Error: open /etc/kubernetes/pki/etcd/ca.crt: no such file')).toBeUndefined();
  });

  it('parses member ids above 2^53 exactly, as hex', () => {
    const out =
      '{"header":{"cluster_id":4413477065597753003,"member_id":2681083982177880140,"raft_term":2},"members":[' +
      '{"ID":2681083982177880140,"name":"h1","peerURLs":["https://10.200.1.11:2380"],"clientURLs":["https://10.200.1.11:2379"]},' +
      '{"ID":18446744073709551615,"peerURLs":["https://10.200.1.12:2380"]}]}';
    const list = parseMemberList(out)!;
    expect(list.clusterId).toBe(4413477065597753003n.toString(16));
    expect(list.members[0]).toEqual({
      id: '25351fad42b3c84c', // etcd logs this member as 25351fad42b3c84c
      name: 'h1',
      peerUrls: ['https://10.200.1.11:2380'],
      clientUrls: ['https://10.200.1.11:2379'],
    });
    expect(list.members[1]!.id).toBe('ffffffffffffffff');
    // h2 was added but never started (no name), h3 is not there at all.
    expect(
      membersNotStarted(
        list,
        plan.members.map((m) => ({ name: m.target.name, peerUrl: m.peerUrl })),
      ),
    ).toEqual(['h2', 'h3']);
  });
});

describe('a member whose data dir is empty', () => {
  it("starts a joining member with the cluster's members after its add, not the inventory's", () => {
    // `member add -w json` of Debian's etcd 3.4.23 (a 1-member cluster, y added): the new member has no name yet.
    const added = parseMemberList(
      '{"header":{"cluster_id":10688850735455529569,"member_id":3682749693109407146,"raft_term":2},' +
        '"member":{"ID":15947373366596381797,"peerURLs":["http://127.0.0.1:23390"]},' +
        '"members":[{"ID":3682749693109407146,"name":"x","peerURLs":["http://127.0.0.1:23380"],' +
        '"clientURLs":["http://127.0.0.1:23379"]},{"ID":15947373366596381797,"peerURLs":["http://127.0.0.1:23390"]}]}',
    )!;
    expect(added.members.map((m) => [m.id, m.name])).toEqual([
      ['331bc15576770daa', 'x'],
      ['dd5073958880ac65', ''],
    ]);
    const planned = 'x=http://127.0.0.1:23380,y=http://127.0.0.1:23390,z=http://127.0.0.1:23391';
    // z is in the inventory but not added yet: left out, or etcd refuses to start ("member count is unequal").
    expect(joinInitialCluster(added, { name: 'y', peerUrl: 'http://127.0.0.1:23390' }, planned)).toBe(
      'x=http://127.0.0.1:23380,y=http://127.0.0.1:23390',
    );
    // Another added member that has not started: named as planned, or after its id when the plan has none.
    const two: MemberList = {
      clusterId: 'c',
      members: [
        ...[...added.members].reverse(),
        { id: 'ab', name: '', peerUrls: ['http://127.0.0.1:23391'], clientUrls: [] },
        { id: 'cd', name: '', peerUrls: ['http://127.0.0.1:23392'], clientUrls: [] },
      ],
    };
    expect(joinInitialCluster(two, { name: 'y', peerUrl: 'http://127.0.0.1:23390' }, planned)).toBe(
      'x=http://127.0.0.1:23380,y=http://127.0.0.1:23390,z=http://127.0.0.1:23391,unstarted-cd=http://127.0.0.1:23392',
    );
  });

  it('computes the id the real etcd gives a member of its initial cluster', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k2h-etcdid-'));
    const [peer, client] = [await freePort(), await freePort()];
    const peerUrl = `http://127.0.0.1:${peer}`;
    const etcd = spawn(
      'etcd',
      [
        ...['--name', 'x', '--data-dir', join(dir, 'data'), '--logger', 'zap'],
        ...['--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl],
        ...[
          '--listen-client-urls',
          `http://127.0.0.1:${client}`,
          '--advertise-client-urls',
          `http://127.0.0.1:${client}`,
        ],
        ...['--initial-cluster', `x=${peerUrl}`, '--initial-cluster-token', 'k2h-test-token'],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      // etcd logs its id as it starts; the stream ends when it exits.
      const id = await new Promise<string>((resolve, reject) => {
        let text = '';
        etcd.stderr.on('data', (b: Buffer) => {
          text += b.toString();
          const m = /"local-member-id":"([0-9a-f]+)"/.exec(text);
          if (m) resolve(m[1]!);
        });
        etcd.once('exit', () => reject(new Error(`etcd exited without logging its id: ${text.slice(-500)}`)));
        etcd.once('error', reject);
      });
      expect(staticMemberId([peerUrl], 'k2h-test-token')).toBe(id);
    } finally {
      etcd.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bootstraps a new cluster, joins or replaces itself in an answering one', () => {
    const me = { peerUrl: 'https://10.200.1.13:2380', initialClusterToken: 'lab-etcd' };
    const initial = staticMemberId([me.peerUrl], me.initialClusterToken);
    const others: MemberList['members'] = [
      { id: 'a1', name: 'h1', peerUrls: ['https://10.200.1.11:2380'], clientUrls: ['https://10.200.1.11:2379'] },
      { id: 'a2', name: 'h2', peerUrls: ['https://10.200.1.12:2380'], clientUrls: ['https://10.200.1.12:2379'] },
    ];
    const list = (h3?: { id: string; name: string }): MemberList => ({
      clusterId: 'c1',
      members: [...others, ...(h3 ? [{ ...h3, peerUrls: [me.peerUrl], clientUrls: [] }] : [])],
    });
    // Nobody answered: a new cluster whose members are not all up yet.
    expect(emptyMemberAction(undefined, me)).toEqual({ kind: 'bootstrap' });
    // A new cluster whose other members formed a quorum first: this member is listed with its initial id, unstarted.
    expect(emptyMemberAction(list({ id: initial, name: '' }), me)).toEqual({ kind: 'bootstrap' });
    // Known as started: its data is lost, so it is removed and added again.
    expect(emptyMemberAction(list({ id: initial, name: 'h3' }), me)).toEqual({ kind: 'replace', id: initial });
    // Removed by an earlier attempt: only added.
    expect(emptyMemberAction(list(), me)).toEqual({ kind: 'join' });
    // Added by an earlier attempt (an id mixed with the time), not started yet: start it as existing.
    expect(emptyMemberAction(list({ id: '9f00e1', name: '' }), me)).toEqual({ kind: 'joining' });
  });
});

describe('etcd version and packages', () => {
  it('reads the version etcd prints', () => {
    expect(parseEtcdVersion('etcd Version: 3.4.23\nGit SHA: Not provided\nGo Version: go1.19.8\n')).toBe('3.4.23');
    expect(parseEtcdVersion('sh: etcd: not found')).toBe('');
  });

  it('picks the package whose upstream version is exactly the pinned one', () => {
    const madison = [
      'etcd-server | 3.4.30-1 | http://mirror.test/debian trixie/main amd64 Packages',
      'etcd-server | 3.4.23-4+b3 | http://mirror.test/debian bookworm/main amd64 Packages',
      'etcd-server | 1:3.4.2-1 | http://mirror.test/debian old/main amd64 Packages',
    ].join('\n');
    const versions = madisonEntries(madison).map((e) => e.version);
    expect(madisonEntries(madison)[1]).toEqual({ pkg: 'etcd-server', version: '3.4.23-4+b3' });
    expect(pickVersion(versions, '3.4.23')).toBe('3.4.23-4+b3');
    expect(pickVersion(versions, '3.4.2')).toBe('1:3.4.2-1');
    expect(pickVersion(versions, '3.5.16')).toBeUndefined();
    expect(pickVersion(['3.4.23+dfsg-1'], '3.4.23')).toBe('3.4.23+dfsg-1');
  });
});

describe('service definitions', () => {
  const spec = etcdServiceSpec('/usr/bin/etcd');

  it('renders a systemd unit that runs etcd with its config file and restarts it', () => {
    const unit = renderUnit(spec);
    expect(unit).toContain('ExecStart=/usr/bin/etcd --config-file /etc/etcd/etcd.conf.yml');
    expect(unit).toContain('Type=notify');
    expect(unit).toContain('Restart=always');
    expect(unit).toContain('WantedBy=multi-user.target');
  });

  it('quotes unit-file words so spaces, quotes, % and $ mean themselves', () => {
    expect(systemdWord('/usr/bin/etcd')).toBe('/usr/bin/etcd');
    expect(systemdWord('a b')).toBe('"a b"');
    expect(systemdWord('say "hi" \\ 100%')).toBe('"say \\"hi\\" \\\\ 100%%"');
    expect(systemdWord('$HOME')).toBe('"$$HOME"');
  });

  it('renders a k2h-supervise definition that sh reads back to the same argv', () => {
    const tricky = {
      ...spec,
      command: ['/usr/bin/printf', '%s|', "it's", 'a b', '$(id)'],
      env: { GREETING: "it's $x" },
    };
    const dir = mkdtempSync(join(tmpdir(), 'k2h-envfile-'));
    const file = join(dir, 'etcd.env');
    writeFileSync(file, renderEnvFile(tricky));
    let out: string;
    try {
      const script = '. "$1"; eval "set -- $K2H_COMMAND"; printf "%s\\n" "$@" "$GREETING" "$K2H_LOG"';
      out = execFileSync('sh', ['-c', script, 'sh', file], { encoding: 'utf8' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(out.split('\n').slice(0, 7)).toEqual([
      '/usr/bin/printf',
      '%s|',
      "it's",
      'a b',
      '$(id)',
      "it's $x",
      '/var/log/etcd.log',
    ]);
  });

  it('refuses names and values that would escape their file', () => {
    expect(() => renderUnit({ ...spec, name: '../x' })).toThrow(/invalid service name/);
    expect(() => renderEnvFile({ ...spec, command: ['/bin/x', 'a\nK2H_BIN=/bin/evil'] })).toThrow(/newlines/);
    expect(() => renderUnit({ ...spec, command: ['etcd'] })).toThrow(/absolute path/);
    expect(() => renderEnvFile({ ...spec, env: { K2H_BIN: '/x' } })).toThrow(/environment variable/);
  });
});

describe('ensureService', () => {
  // An in-memory manager that records calls: this tests the decision, the lab tests the real managers.
  const manager = (active: boolean, changed: boolean) => {
    const calls: string[] = [];
    const m: ServiceManager = {
      kind: 'supervisor',
      install: () => Promise.resolve({ changed }),
      start: (n) => (calls.push(`start ${n}`), Promise.resolve()),
      stop: (n) => (calls.push(`stop ${n}`), Promise.resolve()),
      restart: (n) => (calls.push(`restart ${n}`), Promise.resolve()),
      isActive: () => Promise.resolve(active),
    };
    return { m, calls };
  };
  const spec = etcdServiceSpec('/usr/bin/etcd');

  it('starts a stopped service, restarts only for a change, and otherwise leaves it alone', async () => {
    const stopped = manager(false, false);
    expect((await ensureService(stopped.m, spec, { restartIfRunning: true })).action).toBe('started');
    expect(stopped.calls).toEqual(['start etcd']);

    const running = manager(true, false);
    expect((await ensureService(running.m, spec, { restartIfRunning: false })).action).toBe('none');
    expect(running.calls).toEqual([]);

    const newDefinition = manager(true, true);
    expect((await ensureService(newDefinition.m, spec, { restartIfRunning: false })).action).toBe('restarted');
    const newCerts = manager(true, false);
    expect((await ensureService(newCerts.m, spec, { restartIfRunning: true })).action).toBe('restarted');
  });
});

describe('peerRejections: the peer connections a member refused, from its own log', () => {
  // Captured from etcd 3.6.5 on lab host h4 (setup-etcd-members, 2026-12-03): h1 held the VIP 10.200.1.100/25 while its
  // own address is 10.200.1.11/24, so its connections to 10.200.1.0/25 left from the VIP.
  const line = (port: number, ip: string, name: string) =>
    JSON.stringify({
      level: 'warn',
      ts: '2026-12-03T17:09:20.381609Z',
      caller: 'embed/config_logging.go:179',
      msg: 'rejected connection on peer endpoint',
      'remote-addr': `10.200.1.100:${port}`,
      'server-name': '',
      'ip-addresses': [ip, '127.0.0.1', '::1'],
      'dns-names': [name, 'localhost'],
      error: `tls: "10.200.1.100" does not match any of DNSNames ["${name}" "localhost"]`,
    });
  const log = [
    '{"level":"info","msg":"starting etcd server"}',
    line(54540, '10.200.1.11', 'h1'),
    line(54541, '10.200.1.11', 'h1'),
    line(37132, '10.200.1.12', 'h2'),
    'not json: rejected connection on peer endpoint',
  ].join('\n');

  it('one entry per source and certificate, counted; other lines and unreadable ones ignored', () => {
    expect(peerRejections(log)).toEqual([
      { from: '10.200.1.100', certificateIps: ['10.200.1.11', '127.0.0.1', '::1'], count: 2 },
      { from: '10.200.1.100', certificateIps: ['10.200.1.12', '127.0.0.1', '::1'], count: 1 },
    ]);
    expect(peerRejections('{"level":"info","msg":"ready to serve client requests"}')).toEqual([]);
  });

  it('says where they came from, whose certificate, and the likely cause; nothing for none', () => {
    const text = describePeerRejections(peerRejections(log));
    expect(text).toContain('2× from 10.200.1.100 with a certificate for 10.200.1.11');
    expect(text).toContain('vip.prefixLength');
    expect(describePeerRejections([])).toBe('');
  });
});
