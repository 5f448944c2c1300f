// The end-to-end proof: a Node TLS server and client, each presenting a certificate from our CA, each verifying
// the other, over 127.0.0.1 (an IP SAN) — what etcd peers and the apiserver do.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';

import { createCa, issueCertificate, type KeyType } from '../../../src/pki/index.js';

async function handshake(keyType: KeyType, serverIp = '127.0.0.1') {
  const ca = await createCa({ commonName: 'etcd-ca', keyType, validityDays: 30 });
  const [server, client] = await Promise.all([
    issueCertificate({ ca, commonName: 'h1', keyType, validityDays: 10, usages: 'peer', dnsNames: ['h1', 'localhost'], ipAddresses: [serverIp, '::1'] }),
    issueCertificate({ ca, commonName: 'kube-etcd-healthcheck-client', organization: 'system:masters', keyType, validityDays: 10, usages: 'client' }),
  ]);
  let serverSide: { authorized: boolean; peerCn: unknown } | undefined;
  const srv = createServer(
    { key: server.keyPem, cert: server.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (socket: TLSSocket) => {
      serverSide = { authorized: socket.authorized, peerCn: socket.getPeerCertificate().subject.CN };
      socket.end('ok');
    },
  );
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  try {
    const { port } = srv.address() as AddressInfo;
    const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, key: client.keyPem, cert: client.certPem });
    await once(socket, 'secureConnect');
    const clientSide = { authorized: socket.authorized, peerCn: socket.getPeerCertificate().subject.CN, error: socket.authorizationError };
    const [data] = (await once(socket, 'data')) as [Buffer];
    socket.destroy();
    return { clientSide, serverSide, data: data.toString() };
  } finally {
    srv.close();
  }
}

describe('TLS handshake with mutual authentication', () => {
  it.each<KeyType>(['ecdsa-p256', 'rsa-2048'])('%s: both sides verify each other on 127.0.0.1', async (keyType) => {
    const r = await handshake(keyType);
    expect(r.clientSide).toEqual({ authorized: true, peerCn: 'h1', error: null });
    expect(r.serverSide).toEqual({ authorized: true, peerCn: 'kube-etcd-healthcheck-client' });
    expect(r.data).toBe('ok');
  });

  it('fails when the server certificate lacks the IP the client dials', async () => {
    await expect(handshake('ecdsa-p256', '10.200.0.11')).rejects.toThrow(/IP: 127\.0\.0\.1 is not in the cert's list/);
  });
});
