// One `etcdctl member list` entry as the facts parse it: peer and client URLs on the member's address.
export const etcdMember = (name: string, address: string, id: string) => ({
  id,
  name,
  peerUrls: [`https://${address}:2380`],
  clientUrls: [`https://${address}:2379`],
});
