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

/** The raw key in an `ssh-ed25519 <base64>` line: its wire form is string "ssh-ed25519", then string key. */
function ed25519KeyBytes(publicLine: string): number {
  const blob = Buffer.from(publicLine.split(' ')[1] ?? '', 'base64');
  const typeLen = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  return blob.length >= 8 + typeLen ? blob.readUInt32BE(4 + typeLen) : 0;
}

export function relayKeyPair(comment: string): RelayKeyPair {
  // ssh2 writes an ed25519 key whose public half starts with a zero byte as 31 bytes (a bignum's encoding), which
  // OpenSSH refuses to load ("error in libcrypto"): about one key in a hundred. Such a key is made again.
  for (let attempt = 0; attempt < 100; attempt++) {
    const k = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    if (ed25519KeyBytes(k.public) === 32) return { privateKey: k.private, publicKey: k.public };
  }
  throw new Error('could not make a well-formed ed25519 relay key');
}
