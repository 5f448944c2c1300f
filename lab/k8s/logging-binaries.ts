// VictoriaLogs and vlagent for the lab's `logging` addon: scripts/build-logging.sh builds them from the Go module
// proxy into a cache keyed by version and a hash of the pinned module (it owns the build, its lock and its
// done-marker); this module only runs it and hands back the path. Cold: about 2 minutes; warm: milliseconds.
import { VICTORIALOGS_VERSION } from '../../src/templates/addons/logging.js';
import { runBuildScript, type BuildScriptOptions } from '../build-script.js';

export interface LoggingBinaries {
  /** e.g. 1.52.2 */
  version: string;
  /** Holds victoria-logs and vlagent. */
  binDir: string;
}

export class LoggingBuildError extends Error {
  override name = 'LoggingBuildError';
}

export async function ensureLoggingBinaries(opts: BuildScriptOptions = {}): Promise<LoggingBinaries> {
  const binDir = await runBuildScript(
    'build-logging.sh',
    [],
    ['victoria-logs', 'vlagent'],
    opts,
    (m) => new LoggingBuildError(m),
  );
  return { version: VICTORIALOGS_VERSION, binDir };
}
