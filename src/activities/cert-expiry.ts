// The certificate-expiry activity: read every certificate a host has (kubeadm PKI, kubeconfigs' client
// certificates, the kubelet's), in one SSH round trip, and return facts about them. Read-only, so idempotent;
// quick, so no heartbeat. What reaches history is subject, issuer, dates and serial: the script filters on the host
// so no private key is ever transferred (cert-files.ts), and no PEM is returned.
import type { CertSource, HostCertificates } from '../plan/certs.js';
import type { HostContext } from '../plan/types.js';
import { certificateFacts, parseScriptOutput, readCertificatesScript } from './cert-files.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';

export interface ReadHostCertificatesInput {
  host: HostContext;
  sources: readonly CertSource[];
}

export function createCertExpiryActivities(deps: ActivityDeps) {
  return {
    async readHostCertificates({ host, sources }: ReadHostCertificatesInput): Promise<HostCertificates> {
      return withFailures(async () => {
        const out = await deps
          .session(host)
          .run({ script: readCertificatesScript(sources) }, { action: 'read certificates', timeoutMs: 60_000 });
        const parsed = certificateFacts(parseScriptOutput(out.stdout));
        return { host: host.target.name, ...parsed };
      });
    },
  };
}
