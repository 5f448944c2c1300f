// A throwaway SSH key pair for one host-to-host transfer (images relayed from a host that has them to the next):
// made in the worker's memory, its private half written to the sending host over SSH stdin in a 0600 file and its
// public half authorized on the receiving host with a forced command; both are removed when the transfer ends. It
// never reaches Temporal history or a log.
import ssh2 from 'ssh2';

export interface RelayKeyPair {
  /** OpenSSH private key file text. */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment`, an authorized_keys / .pub line. */
  publicKey: string;
}

export function relayKeyPair(comment: string): RelayKeyPair {
  const k = ssh2.utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: k.private, publicKey: k.public };
}
