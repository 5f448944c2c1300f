// Masks secrets in text we are about to show or keep (error messages, logs, Temporal failure details).
// Remote stderr often echoes the command line or config it was given, e.g. kubeadm prints the join command with its
// bootstrap token, and `kubeadm init --upload-certs` prints the certificate key. Anything matching below becomes
// [redacted]. Public values (the discovery CA hash `sha256:<hex>`) are kept: they help debugging and are not secret.

const MASK = '[redacted]';

const rules: ReadonlyArray<readonly [RegExp, string]> = [
  // PEM private keys (any kind), including a block cut off by a tail limit (no END line).
  [
    /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g,
    `-----BEGIN $1PRIVATE KEY----- ${MASK}`,
  ],
  // Flags whose value is secret, in `--flag value` and `--flag=value` form.
  [
    /(--(?:token|certificate-key|password|discovery-token|tls-bootstrap-token|secret)(?:=|\s+))(?!sha256:)\S+/g,
    `$1${MASK}`,
  ],
  // kubeadm: "Using certificate key:\n<64 hex>".
  [/(certificate key:\s*)[0-9a-f]{64}\b/gi, `$1${MASK}`],
  // Config files echoed back: kubeadm's `certificateKey: <hex>` (YAML or JSON) and kubeconfig's base64 PEM
  // `client-key-data:` (admin.conf carries the cluster-admin private key this way).
  [/(\b(?:certificateKey|client-key-data)["']?\s*:\s*["']?)[A-Za-z0-9+/=]{16,}/g, `$1${MASK}`],
  // kubeconfig / API `token: <bearer token>` (service-account JWTs); bootstrap tokens are caught below anyway.
  [/(\btoken["']?\s*:\s*["']?)[A-Za-z0-9._~+/=-]{24,}/g, `$1${MASK}`],
  // Bootstrap tokens anywhere (YAML `token: …`, URLs, prose). The id part is public but masking both is simpler.
  [/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g, MASK],
  // HTTP bearer tokens (kubectl -v, curl).
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, `$1${MASK}`],
];

/** Return `text` with secrets masked. Safe to call on anything; idempotent. */
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of rules) out = out.replace(pattern, replacement);
  return out;
}

/** The last `lines` non-empty lines of `text`, redacted: what an error message may carry of a command's stderr. */
export function redactedTail(text: string, lines = 20): string {
  const kept = text.split('\n').filter((l) => l.trim() !== '');
  // Redact before cutting, so a PEM block whose BEGIN line falls outside the tail is still recognised as a block.
  return redact(kept.join('\n')).split('\n').slice(-lines).join('\n');
}
