// Every CLI command module exports `register(program)`; this list is the CLI's table of contents.
import type { Command } from 'commander';
import * as codec from './codec.js';
import * as etcd from './etcd.js';
import * as inventory from './inventory.js';
import * as server from './server.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [codec.register, etcd.register, inventory.register, server.register];
