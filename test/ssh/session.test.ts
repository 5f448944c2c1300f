// HostSession against a real sshd on a lab host: results, stdin/env, failures, timeouts that kill the remote
// command, reconnects, atomic uploads, downloads, connection reuse and the channel cap.
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { CommandFailedError, CommandTimeoutError, HostUnreachableError } from '../../src/errors.js';
import type { SshPool } from '../../src/ssh/index.js';
import { countProcesses, killSshConnection, labPool, pollUntil, target } from './helpers.js';

let lab: Lab;
let pool: SshPool;

beforeAll(async () => {
  lab = await createLab({ hosts: 1, prepared: false });
  pool = await labPool(lab);
});
afterAll(async () => {
  await pool?.closeAll();
  await lab?.destroy();
});

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
/** ESTABLISHED TCP connections to the host's sshd, counted on the host itself. */
const sshConnections = async (): Promise<number> => {
  const r = await lab.exec('h1', "ss -tnH state established '( sport = :22 )' | wc -l");
  return Number(r.stdout.trim());
};

describe('commands', () => {
  it('returns stdout, stderr and the exit code', async () => {
    const h1 = pool.session(target(lab, 'h1'));
    const ok = await h1.run({ script: 'echo out; echo err >&2' });
    expect(ok).toMatchObject({ code: 0, stdout: 'out\n', stderr: 'err\n' });
    const three = await h1.run(['sh', '-c', 'echo partial; exit 3'], { allowNonZero: true });
    expect(three).toMatchObject({ code: 3, stdout: 'partial\n' });
    expect((await h1.run(['hostname'])).stdout).toBe('h1\n');
  });

  it('feeds stdin, byte for byte, and closes it', async () => {
    const h1 = pool.session(target(lab, 'h1'));
    const data = randomBytes(3 * 1024 * 1024 + 7);
    const r = await h1.run(
      { script: 'cat > /tmp/in; sha256sum < /tmp/in | cut -d" " -f1; wc -c < /tmp/in' },
      { stdin: data },
    );
    expect(r.stdout).toBe(`${sha256(data)}\n${data.length}\n`);
    // No stdin given: the command sees EOF at once instead of waiting forever.
    expect((await h1.run(['cat'], { timeoutMs: 5000 })).stdout).toBe('');
  });

  it('sets environment variables for the command', async () => {
    const h1 = pool.session(target(lab, 'h1'));
    const r = await h1.run(['sh', '-c', 'printf "%s|%s" "$ONE" "$TWO"'], { env: { ONE: 'a b', TWO: "$(x)'\n" } });
    expect(r.stdout).toBe("a b|$(x)'\n");
  });

  it('throws CommandFailedError with the exit code, the action and a redacted stderr tail', async () => {
    const h1 = pool.session(target(lab, 'h1'));
    const script =
      'for i in $(seq 1 30); do echo "noise $i" >&2; done; ' +
      'echo "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef" >&2; exit 7';
    const err = await h1.run({ script }, { action: 'join node' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailedError);
    const e = err as CommandFailedError;
    expect(e.exitCode).toBe(7);
    expect(e.action).toBe('join node');
    expect(e.retryable).toBe(true);
    expect(e.stderrTail).toContain('--token [redacted]');
    expect(e.stderrTail).not.toContain('noise 1\n'); // only the tail
    expect(e.stderrTail.split('\n')).toHaveLength(20);
    expect(e.message).toMatch(/^h1: join node: exit 7/);
    expect(e.message).not.toContain('0123456789abcdef');
  });

  it('kills the remote command on timeout and raises CommandTimeoutError', async () => {
    const h1 = pool.session(target(lab, 'h1'));
    const nap = 'sleep 39.4711'; // unique command line, so pgrep finds only this
    const started = performance.now();
    const run = h1.run({ script: `${nap}; ${nap}` }, { timeoutMs: 1500, action: 'nap' }).catch((e: unknown) => e);
    await pollUntil(async () => (await countProcesses(lab, 'h1', nap)) > 0, 'the command to start', 5000);
    const err = await run;
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(CommandTimeoutError);
    expect((err as Error).message).toBe('h1: nap: timed out after 1500 ms');
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(4000); // the host's timeout, not our 5 s backstop
    await pollUntil(async () => (await countProcesses(lab, 'h1', nap)) === 0, 'the command to be gone', 3000);
    // Killed, not just abandoned: the script (timeout's process group) is gone, so its second sleep never starts.
    expect(await countProcesses(lab, 'h1', `sh -c ${nap}; ${nap}`)).toBe(0);
    expect((await h1.run(['true'])).code).toBe(0); // the connection is still fine
  });
});

describe('connections', () => {
  it('runs many commands over one TCP connection', async () => {
    const fresh = await labPool(lab);
    try {
      const h1 = fresh.session(target(lab, 'h1'));
      const again = fresh.session(target(lab, 'h1')); // a second session for the same host shares the connection
      for (let i = 0; i < 10; i++) await h1.run(['true']);
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? h1 : again).run(['echo', String(i)])));
      expect(fresh.stats()).toEqual([expect.objectContaining({ connects: 1 })]);
      // `pool` (the file's shared one) holds one connection too; this pool adds exactly one.
      await pool.session(target(lab, 'h1')).run(['true']);
      expect(await sshConnections()).toBe(2);
    } finally {
      await fresh.closeAll();
    }
    await pollUntil(async () => (await sshConnections()) === 1, 'the closed connection to go away', 5000);
  });

  it('never runs more commands at once than channels allowed per connection', async () => {
    const capped = await labPool(lab, {}, { maxChannelsPerConnection: 3 });
    try {
      const h1 = capped.session(target(lab, 'h1'));
      const nap = 'sleep 0.4713';
      let maxSeen = 0;
      let done = false;
      const watcher = (async () => {
        while (!done) maxSeen = Math.max(maxSeen, await countProcesses(lab, 'h1', nap));
      })();
      // Each command reports when it started and ended, in the host's clock.
      const spans = await Promise.all(
        Array.from({ length: 9 }, () => h1.run({ script: `date +%s%N; ${nap}; date +%s%N` })),
      ).finally(() => (done = true));
      await watcher;
      const events = spans.flatMap((r) => {
        const [a, b] = r.stdout.trim().split('\n').map(BigInt);
        return [
          { t: a ?? 0n, d: 1 },
          { t: b ?? 0n, d: -1 },
        ];
      });
      events.sort((x, y) => (x.t === y.t ? x.d - y.d : x.t < y.t ? -1 : 1));
      let now = 0;
      let peak = 0;
      for (const e of events) peak = Math.max(peak, (now += e.d));
      expect(peak).toBe(3);
      expect(maxSeen).toBeLessThanOrEqual(3);
      expect(maxSeen).toBeGreaterThan(0);
    } finally {
      await capped.closeAll();
    }
  });

  it('reconnects transparently on the next command after the connection is killed', async () => {
    const own = await labPool(lab);
    try {
      const h1 = own.session(target(lab, 'h1'));
      await h1.run(['true']);
      const clientPort = (await h1.run(['sh', '-c', 'echo $SSH_CONNECTION'])).stdout.split(' ')[1] ?? '';
      await killSshConnection(lab, 'h1', clientPort);
      expect((await h1.run(['echo', 'back'])).stdout).toBe('back\n');
      expect(own.stats()[0]?.connects).toBe(2);
    } finally {
      await own.closeAll();
    }
  });

  it('reports a connection lost mid-command as retryable, without re-running it', async () => {
    const own = await labPool(lab);
    try {
      const h1 = own.session(target(lab, 'h1'));
      const nap = 'sleep 38.4712';
      const clientPort = (await h1.run(['sh', '-c', 'echo $SSH_CONNECTION'])).stdout.split(' ')[1] ?? '';
      const run = h1.run({ script: `echo ran >> /tmp/midrun; ${nap}` }).catch((e: unknown) => e);
      await pollUntil(async () => (await countProcesses(lab, 'h1', nap)) > 0, 'the command to start', 5000);
      await killSshConnection(lab, 'h1', clientPort);
      const err = await run;
      expect(err).toBeInstanceOf(HostUnreachableError);
      expect((err as HostUnreachableError).retryable).toBe(true);
      expect((err as Error).message).toMatch(/connection lost while the command was running/);
      expect((await lab.exec('h1', 'cat /tmp/midrun')).stdout).toBe('ran\n');
      // Our side gave up, the host's command lives on (as with any dropped ssh session); clean it up.
      await lab.exec('h1', 'pkill -x -f "sleep 38.4712"; rm -f /tmp/midrun', { allowFail: true });
    } finally {
      await own.closeAll();
    }
  });
});

describe('a connection that hangs', () => {
  it('is noticed by keepalive: the running command fails retryably and the next one reconnects', async () => {
    const own = await labPool(lab, {}, { keepaliveIntervalMs: 250 });
    const nap = 'sleep 36.4714';
    let frozen = '';
    try {
      const h1 = own.session(target(lab, 'h1'));
      const clientPort = (await h1.run(['sh', '-c', 'echo $SSH_CONNECTION'])).stdout.split(' ')[1] ?? '';
      const run = h1.run({ script: nap }).catch((e: unknown) => e);
      await pollUntil(async () => (await countProcesses(lab, 'h1', nap)) > 0, 'the command to start', 5000);
      // Freeze the sshd serving us: TCP stays up (the kernel still ACKs), but nothing answers at the SSH level.
      const pids = await lab.exec(
        'h1',
        `ss -tnpH state established '( sport = :22 and dport = :${Number(clientPort)} )' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u`,
      );
      frozen = pids.stdout.split('\n').filter(Boolean).join(' ');
      await lab.exec('h1', `kill -STOP ${frozen}`);
      const started = performance.now();
      const err = await run;
      expect(err).toBeInstanceOf(HostUnreachableError);
      expect((err as HostUnreachableError).retryable).toBe(true);
      expect(performance.now() - started).toBeLessThan(5000); // 3 missed keepalives at 250 ms, not the 600 s timeout
      expect((await h1.run(['echo', 'fresh'])).stdout).toBe('fresh\n');
      expect(own.stats()[0]?.connects).toBe(2);
    } finally {
      await own.closeAll();
      if (frozen) await lab.exec('h1', `kill -KILL ${frozen}`, { allowFail: true });
      await lab.exec('h1', `pkill -x -f '${nap.replace('.', '\\.')}'`, { allowFail: true });
    }
  });
});

describe('files', () => {
  it('uploads atomically: a reader polling the file never sees a partial one', async () => {
    const h1 = pool.session(target(lab, 'h1'));
    const a = randomBytes(8 * 1024 * 1024);
    const b = randomBytes(8 * 1024 * 1024);
    const allowed = new Set([sha256(a), sha256(b)]);
    await h1.putFile('/var/lib/k2h-test/atomic/big', a, { mode: 0o644 });
    // Reader on the host: hash the file over and over until told to stop.
    await lab.exec(
      'h1',
      "rm -f /tmp/stop /tmp/seen; { setsid nohup sh -c 'while [ ! -e /tmp/stop ]; do sha256sum < /var/lib/k2h-test/atomic/big | cut -c1-64; done > /tmp/seen; touch /tmp/reader-done' </dev/null >/dev/null 2>&1 & }",
    );
    for (const content of [b, a, b])
      expect(await h1.putFile('/var/lib/k2h-test/atomic/big', content, { mode: 0o644 })).toEqual({ changed: true });
    await lab.exec('h1', 'touch /tmp/stop');
    await pollUntil(
      async () => (await lab.exec('h1', 'test -e /tmp/reader-done', { allowFail: true })).code === 0,
      'the reader to stop',
    );
    const seen = (await lab.exec('h1', 'cat /tmp/seen')).stdout.split('\n').filter(Boolean);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((s) => !allowed.has(s))).toEqual([]);
    expect((await lab.exec('h1', 'ls -A /var/lib/k2h-test/atomic')).stdout).toBe('big\n'); // no temp files left
    expect(sha256(await h1.getFile('/var/lib/k2h-test/atomic/big'))).toBe(sha256(b));
  });

  it('sets mode and owner, skips an identical upload and fixes only metadata when that alone differs', async () => {
    const h1 = pool.session(target(lab, 'h1'));
    const path = '/etc/kubeadm2ha-test/owned.conf';
    const stat = async (): Promise<string> => (await lab.exec('h1', `stat -c '%a %U %G' ${path}`)).stdout.trim();
    expect(await h1.putFile(path, 'k=v\n', { mode: 0o640, owner: 'nobody', group: 'nogroup' })).toEqual({
      changed: true,
    });
    expect(await stat()).toBe('640 nobody nogroup');
    const inode = (await lab.exec('h1', `stat -c %i ${path}`)).stdout;
    expect(await h1.putFile(path, Buffer.from('k=v\n'), { mode: 0o640, owner: 'nobody', group: 'nogroup' })).toEqual({
      changed: false,
    });
    expect((await lab.exec('h1', `stat -c %i ${path}`)).stdout).toBe(inode); // not rewritten
    expect(await h1.putFile(path, 'k=v\n', { mode: 0o600, owner: 'root' })).toEqual({ changed: true });
    expect(await stat()).toBe('600 root nogroup');
    expect((await lab.exec('h1', `cat ${path}`)).stdout).toBe('k=v\n');
  });

  it('streams a large file up and down with backpressure, verified by checksum, and skips an identical upload', async () => {
    const h1 = pool.session(target(lab, 'h1'));
    const data = randomBytes(24 * 1024 * 1024 + 5);
    const path = '/var/lib/k2h-test/stream/big.db';
    const open = () => Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]);
    expect(await h1.putStream(path, sha256(data), open, { mode: 0o600 })).toEqual({ changed: true });
    expect((await lab.exec('h1', `stat -c %a ${path}; sha256sum < ${path}`)).stdout).toBe(`600\n${sha256(data)}  -\n`);
    expect(await h1.putStream(path, sha256(data), open, { mode: 0o600 })).toEqual({ changed: false });
    // A stream that does not match its checksum leaves the old file alone. The expected checksum must differ from the
    // file's (else the upload is skipped as identical): its first hex digit changed, never to itself (1 in 16 was 'f').
    const wrong = () => Readable.from([randomBytes(1000)]);
    const other = sha256(data).replace(/^./, (c) => (c === 'f' ? '0' : 'f'));
    await expect(h1.putStream(path, other, wrong, { mode: 0o600 })).rejects.toThrow(/checksum differs/);
    // Download into a slow sink: backpressure holds the channel, every byte arrives in order.
    const chunks: Buffer[] = [];
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        setImmediate(cb);
      },
    });
    await h1.downloadFile(path, sink);
    expect(sink.writableEnded).toBe(false); // the caller ends it, and waits for its own buffer to drain
    sink.end();
    await finished(sink);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
  });

  it('downloads binary files exactly and fails clearly for a missing one', async () => {
    const h1 = pool.session(target(lab, 'h1'));
    const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(2 * 1024 * 1024)]);
    await h1.putFile('/var/lib/k2h-test/bin.dat', data, { mode: 0o600 });
    expect((await h1.getFile('/var/lib/k2h-test/bin.dat')).equals(data)).toBe(true);
    const err = await h1.getFile('/var/lib/k2h-test/missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailedError);
    expect((err as Error).message).toMatch(
      /read \/var\/lib\/k2h-test\/missing: exit 1 \(cat: \/var\/lib\/k2h-test\/missing: No such file or directory\)/,
    );
  });
});

// Last: it takes the host down, and everything above needs it.
describe('host restarts', () => {
  it('fails retryably while the host is down and works again once it is back', async () => {
    const own = await labPool(lab, { connectTimeoutSeconds: 3 });
    try {
      const h1 = own.session(target(lab, 'h1'));
      await h1.run(['true']);
      await lab.stopHost('h1');
      const err = await h1.run(['true']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostUnreachableError);
      expect((err as HostUnreachableError).retryable).toBe(true);
      await lab.startHost('h1');
      expect((await h1.run(['hostname'])).stdout).toBe('h1\n');
    } finally {
      await own.closeAll();
    }
  });
});
