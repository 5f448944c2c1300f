// Commands on lab hosts whose failures may carry cluster secrets (bootstrap tokens, certificate keys, PEM blocks):
// the error is redacted before it reaches test output, as the product's logs are.
import type { Lab } from '../../lab/index.js';

export function redactSecrets(text: string): string {
  return text
    .replace(/[a-z0-9]{6}\.[a-z0-9]{16}/g, '<token>')
    .replace(/\b[0-9a-f]{64}\b/g, '<hex64>')
    .replace(/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----/g, '<pem>');
}

/** `sh(host, cmd)` → stdout; throws (redacted) on a non-zero exit. */
export function labShell(lab: Pick<Lab, 'exec'>): (host: string, cmd: string) => Promise<string> {
  return async (host, cmd) => {
    try {
      return (await lab.exec(host, cmd)).stdout;
    } catch (err) {
      throw new Error(redactSecrets((err as Error).message));
    }
  };
}
