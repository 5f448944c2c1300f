// Every CLI command module exports `register(program)`; this list is the CLI's table of contents.
import type { Command } from 'commander';
import * as certs from './certs.js';
import * as codec from './codec.js';
import * as demo from './demo.js';
import * as etcd from './etcd.js';
import * as gates from './gates.js';
import * as inventory from './inventory.js';
import * as lab from './lab.js';
import * as preflight from './preflight.js';
import * as runs from './runs.js';
import * as server from './server.js';
import * as worker from './worker.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  certs.register,
  codec.register,
  demo.register,
  etcd.register,
  gates.register,
  inventory.register,
  lab.register,
  preflight.register,
  runs.register,
  worker.register,
  server.register,
];
