// The Ansible side of the benchmarks: an INI inventory of the lab's hosts with the lab's key and strict host-key
// checking (the same trust our worker uses), so both sides connect the same way.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lab } from '../lab/index.js';

export async function writeAnsibleInventory(lab: Lab, dir: string): Promise<void> {
  const lines = ['[all]', ...lab.hosts.map((h) => `${h.name} ansible_host=${h.address}`)];
  lines.push(
    '[all:vars]',
    'ansible_user=root',
    `ansible_ssh_private_key_file=${lab.privateKeyPath}`,
    `ansible_ssh_common_args=-o UserKnownHostsFile=${lab.knownHostsPath} -o StrictHostKeyChecking=yes`,
    'ansible_python_interpreter=/usr/bin/python3',
  );
  await writeFile(join(dir, 'inventory.ini'), lines.join('\n') + '\n');
}
