// The `monitoring` addon's binaries for the lab (prometheus-operator and its config reloader, Prometheus,
// Alertmanager, node_exporter): scripts/build-monitoring.sh builds them from the Go module proxy into a cache keyed
// by their versions (it owns the build, its lock and its done-marker); this module only runs it and hands back the
// path. Cold: tens of minutes (Prometheus and the operator are big module graphs); warm: milliseconds.
import { join } from 'node:path';
import {
  ALERTMANAGER_VERSION,
  NODE_EXPORTER_VERSION,
  PROMETHEUS_OPERATOR_VERSION,
  PROMETHEUS_VERSION,
} from '../../src/templates/addons/monitoring.js';
import { runBuildScript, type BuildScriptOptions } from '../build-script.js';

export const MONITORING_BINARIES = [
  'operator',
  'prometheus-config-reloader',
  'prometheus',
  'alertmanager',
  'node_exporter',
] as const;

export interface MonitoringBinaries {
  binDir: string;
  versions: { operator: string; prometheus: string; alertmanager: string; nodeExporter: string };
}

export class MonitoringBuildError extends Error {
  override name = 'MonitoringBuildError';
}

export async function ensureMonitoringBinaries(opts: BuildScriptOptions = {}): Promise<MonitoringBinaries> {
  const binDir = await runBuildScript(
    'build-monitoring.sh',
    [],
    MONITORING_BINARIES,
    opts,
    (m) => new MonitoringBuildError(m),
  );
  return {
    binDir,
    versions: {
      operator: PROMETHEUS_OPERATOR_VERSION,
      prometheus: PROMETHEUS_VERSION,
      alertmanager: ALERTMANAGER_VERSION,
      nodeExporter: NODE_EXPORTER_VERSION,
    },
  };
}

/** The binary of `name` in a build directory. */
export const monitoringBinary = (binDir: string, name: (typeof MONITORING_BINARIES)[number]): string =>
  join(binDir, name);
