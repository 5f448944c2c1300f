// What an etcd lab test prints when a step on the etcd group failed, so a CI log shows why without a rerun: each
// member's own log tail (the supervisor's /var/log/etcd.log, or the journal under systemd), then, asked from the
// first host with its healthcheck client, `member list`, `endpoint status` and `endpoint health` of every listed
// member, and the machine's load (a join that times out on a loaded machine reads differently from one that cannot
// work).
import { etcdCa, etcdHealthcheckClient } from '../../src/pki/layout.js';
import { quote } from '../../src/ssh/index.js';

interface ExecLab {
  hosts: { name: string; address: string }[];
  exec(
    host: string,
    cmd: string,
    opts?: { allowFail?: boolean },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
}

const LOG_TAIL =
  'if [ -f /var/log/etcd.log ]; then tail -n 40 /var/log/etcd.log; ' +
  'elif command -v journalctl >/dev/null; then journalctl -u etcd --no-pager -n 40; fi';

/** The diagnostics as one text (never throws: each part says what went wrong instead). */
export async function etcdDiagnostics(lab: ExecLab, hosts: string[], via = hosts[0] ?? 'h1'): Promise<string> {
  const out: string[] = [];
  const run = async (host: string, title: string, cmd: string) => {
    try {
      const r = await lab.exec(host, cmd, { allowFail: true });
      out.push(`--- ${host}: ${title} (exit ${r.code})`, r.stdout.trimEnd(), r.stderr.trimEnd());
    } catch (err) {
      out.push(`--- ${host}: ${title}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  await run(via, 'load', 'uptime; cat /proc/pressure/cpu 2>/dev/null; cat /proc/pressure/io 2>/dev/null');
  const endpoints = hosts
    .map((n) => lab.hosts.find((h) => h.name === n)?.address)
    .filter(Boolean)
    .map((a) => `https://${a}:2379`)
    .join(',');
  const etcdctl = (args: string) =>
    `ETCDCTL_API=3 etcdctl --endpoints ${quote(endpoints)} --cacert ${etcdCa.certPath} ` +
    `--cert ${etcdHealthcheckClient.certPath} --key ${etcdHealthcheckClient.keyPath} --command-timeout 10s ${args}`;
  await run(via, 'member list', etcdctl('member list -w table'));
  await run(via, 'endpoint status', etcdctl('endpoint status -w table'));
  await run(via, 'endpoint health', etcdctl('endpoint health -w table'));
  for (const h of hosts) await run(h, 'etcd log tail', LOG_TAIL);
  return out.filter((l) => l !== '').join('\n');
}

/** Runs `body`; when it throws, writes the etcd diagnostics to stderr (prefixed with `label`) and rethrows. */
export async function withEtcdDiagnostics<T>(
  label: string,
  lab: ExecLab,
  hosts: string[],
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const text = await etcdDiagnostics(lab, hosts);
    process.stderr.write(`[${label}] etcd diagnostics after a failure:\n${text}\n`);
    throw err;
  }
}

/** The master that holds the VIP now (keepalived's MASTER), or undefined. */
export async function vipHolder(lab: ExecLab & { vip: string }, masters: string[]): Promise<string | undefined> {
  for (const m of masters) {
    const r = await lab.exec(m, 'ip -4 -o addr show', { allowFail: true });
    if (r.stdout.includes(` ${lab.vip}/`)) return m;
  }
  return undefined;
}

/**
 * Makes `to` the etcd leader (`etcdctl move-leader`, asked of the current leader from `via`): a test puts the
 * leader where it is hardest for a join, the master that holds the VIP. Returns the leader's name before and after.
 */
export async function moveEtcdLeader(
  lab: ExecLab,
  members: string[],
  to: string,
  via = members[0] ?? 'h1',
): Promise<{ before: string; after: string }> {
  const urlOf = (n: string) => `https://${lab.hosts.find((h) => h.name === n)!.address}:2379`;
  const etcdctl = (endpoints: string[], args: string) =>
    `etcdctl --endpoints ${quote(endpoints.join(','))} --cacert ${etcdCa.certPath} ` +
    `--cert ${etcdHealthcheckClient.certPath} --key ${etcdHealthcheckClient.keyPath} --command-timeout 10s ${args}`;
  // The table, not JSON: member ids are uint64, which JSON.parse rounds.
  const status = async () => {
    const out = (await lab.exec(via, etcdctl(members.map(urlOf), 'endpoint status -w table'))).stdout;
    const rows = out
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .map((l) => l.split('|').map((c) => c.trim()));
    const col = (title: string) => rows[0]!.indexOf(title);
    const body = rows.slice(1);
    const name = (endpoint?: string) => members.find((m) => urlOf(m) === endpoint) ?? '?';
    return {
      leader: name(body.find((r) => r[col('IS LEADER')] === 'true')?.[col('ENDPOINT')]),
      idOf: (n: string) => body.find((r) => r[col('ENDPOINT')] === urlOf(n))?.[col('ID')] ?? '',
    };
  };
  const s = await status();
  if (s.leader !== to) await lab.exec(via, etcdctl([urlOf(s.leader)], `move-leader ${s.idOf(to)}`));
  return { before: s.leader, after: (await status()).leader };
}
