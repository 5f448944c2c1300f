// The lab's pod network programs: flanneld and flannel's install-conf at the pinned release, and our CNI plugin
// (the proxy refuses upstream's). scripts/build-flannel.sh builds them from the Go module proxy into a cache keyed by
// version and a hash of the sources (it owns the build, its lock and its done-marker); this module only runs it and
// hands back paths.
import { join } from 'node:path';
import { FLANNEL_VERSION } from '../../src/templates/flannel.js';
import { runBuildScript, type BuildScriptOptions } from '../build-script.js';

export interface FlannelBinaries {
  /** e.g. 0.28.10 */
  version: string;
  binDir: string;
  flanneld: string;
  installConf: string;
  /** The CNI plugin, named as its type in a CNI configuration. */
  cniPlugin: string;
}

export class FlannelBuildError extends Error {
  override name = 'FlannelBuildError';
}

/** Paths of the three programs, building them first when the cache lacks them. Several processes may call this at
 * once: the script's lock makes one build and the others wait. */
export async function ensureFlannelBinaries(opts: BuildScriptOptions = {}): Promise<FlannelBinaries> {
  const binDir = await runBuildScript(
    'build-flannel.sh',
    [],
    ['flanneld', 'install-conf', 'flannel'],
    opts,
    (m) => new FlannelBuildError(m),
  );
  return {
    version: FLANNEL_VERSION,
    binDir,
    flanneld: join(binDir, 'flanneld'),
    installConf: join(binDir, 'install-conf'),
    cniPlugin: join(binDir, 'flannel'),
  };
}
