// etcdctl run from the operator's side (the root namespace, over the lab bridge) with a client certificate from a
// directory holding ca.crt, c.crt and c.key: an independent view of an etcd cluster our workflows built.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function operatorEtcdctl(endpoints: string[], clientDir: string, args: string[]): Promise<string> {
  const { stdout } = await run(
    'etcdctl',
    [
      '--endpoints',
      endpoints.join(','),
      '--cacert',
      join(clientDir, 'ca.crt'),
      '--cert',
      join(clientDir, 'c.crt'),
      '--key',
      join(clientDir, 'c.key'),
      '--command-timeout',
      '2s',
      '-w',
      'json',
      ...args,
    ],
    { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 },
  );
  return stdout;
}
