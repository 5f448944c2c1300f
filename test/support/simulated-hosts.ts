// A STAND-IN for hosts this machine cannot hold: "simulated hosts" that behave like a real host at the activity
// boundary. A read-only command for simulated host simN really runs, over real SSH, on one of the lab's real hosts
// (round robin), and its output comes back with that host's identity (hostname, machine-id, product uuid, MACs)
// replaced by simN's own, so cross-host checks see distinct machines. Activities, the worker, Temporal and SSH
// all do their real work; only the machine answering is shared. Anything but running a command (uploads,
// downloads) is refused: the scale test only runs read-only checks.
import { createHash } from 'node:crypto';
import type { ActivityDeps } from '../../src/activities/deps.js';
import type { HostTarget } from '../../src/plan/types.js';
import type { HostSession } from '../../src/ssh/index.js';

/** Names of simulated hosts start with this; nothing else in an inventory may. */
export const SIMULATED_PREFIX = 'sim';

export const isSimulated = (name: string): boolean => name.startsWith(SIMULATED_PREFIX);

/** N simulated workers with addresses from 10.200.251.1 on: inside the lab supernet, in /24s no lab uses (lab ids
 * stop at 250), and never sent a packet: the stand-in answers for them. */
export function simulatedHosts(n: number): { name: string; address: string; roles: ['worker'] }[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${SIMULATED_PREFIX}${i + 1}`,
    address: `10.200.${251 + Math.floor(i / 250)}.${1 + (i % 250)}`,
    roles: ['worker'],
  }));
}

const hex = (name: string, len: number): string => createHash('sha256').update(name).digest('hex').slice(0, len);

/** The output of a command as simulated host `name` would print it. */
export function asSimulated(stdout: string, name: string): string {
  const mac = hex(`mac-${name}`, 12).replace(/(..)(?!$)/g, '$1:');
  return stdout
    .split('\n')
    .map((line) =>
      line.startsWith('hostname=')
        ? `hostname=${name}`
        : line.startsWith('machineId=')
          ? `machineId=${hex(name, 32)}`
          : line.startsWith('productUuid=')
            ? 'productUuid='
            : line.startsWith('mac=')
              ? `mac=02:${mac.slice(3)}`
              : line,
    )
    .join('\n');
}

/** Activity deps where simulated hosts are answered by `real` sessions on the lab hosts in `templates`. */
export function withSimulatedHosts<D extends ActivityDeps>(real: D, templates: HostTarget[]): D {
  let next = 0;
  const refuse = (what: string) => (): never => {
    throw new Error(`simulated host stand-in: ${what} is not simulated (read-only commands only)`);
  };
  return {
    ...real,
    session(ctx) {
      if (!isSimulated(ctx.target.name)) return real.session(ctx);
      const template = templates[next++ % templates.length]!;
      const session = real.session({ ...ctx, target: template });
      const name = ctx.target.name;
      const stub: HostSession = {
        name,
        async run(command, opts) {
          const r = await session.run(command, opts);
          return { ...r, stdout: asSimulated(r.stdout, name) };
        },
        putFile: refuse('putFile'),
        getFile: refuse('getFile'),
        putStream: refuse('putStream'),
        downloadFile: refuse('downloadFile'),
      };
      return stub;
    },
  };
}
