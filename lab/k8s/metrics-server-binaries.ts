// metrics-server for the lab's `metrics` addon: scripts/build-metrics-server.sh builds it from the Go module proxy
// into a cache keyed by version and a hash of the pinned module (it owns the build, its lock and its done-marker);
// this module only runs it and hands back the path. Cold: minutes (client-go, apiserver); warm: milliseconds.
import { join } from 'node:path';
import { METRICS_SERVER_VERSION } from '../../src/templates/addons/metrics-server.js';
import { runBuildScript, type BuildScriptOptions } from '../build-script.js';

export interface MetricsServerBinary {
  /** e.g. 0.9.0 */
  version: string;
  binDir: string;
  metricsServer: string;
}

export class MetricsServerBuildError extends Error {
  override name = 'MetricsServerBuildError';
}

export async function ensureMetricsServerBinary(opts: BuildScriptOptions = {}): Promise<MetricsServerBinary> {
  const binDir = await runBuildScript(
    'build-metrics-server.sh',
    [],
    ['metrics-server'],
    opts,
    (m) => new MetricsServerBuildError(m),
  );
  return { version: METRICS_SERVER_VERSION, binDir, metricsServer: join(binDir, 'metrics-server') };
}
