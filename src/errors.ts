// Error classes and the ApplicationFailure type names that cross the Temporal boundary.
// Activities throw these; src/activities/failures.ts turns them into ApplicationFailures whose `type` is one of
// FailureType, and workflows/CLI decide on that string (retryable or not, which exit code).

export const FailureType = {
  /** A command ran and exited non-zero. Retryable: hosts are often busy (dpkg lock, apiserver restarting). */
  CommandFailed: 'CommandFailed',
  /** TCP connect, SSH handshake or auth timed out or was refused. Retryable. */
  HostUnreachable: 'HostUnreachable',
  /** The host presented a key that differs from known_hosts. Never retried: it may be an attack. */
  HostKeyMismatch: 'HostKeyMismatch',
  /** The host key is not in known_hosts and accepting new keys was not asked for. Not retryable. */
  HostKeyUnknown: 'HostKeyUnknown',
  /** SSH authentication failed (no key accepted). Not retryable: retrying cannot fix credentials. */
  AuthFailed: 'AuthFailed',
  /** A command took longer than its timeout. Retryable. */
  CommandTimeout: 'CommandTimeout',
  /** Inventory or arguments are invalid. Not retryable. */
  InvalidInput: 'InvalidInput',
  /** A host is not in a state we can work with (wrong OS, missing binary). Not retryable without a person. */
  HostNotSuitable: 'HostNotSuitable',
  /** etcd members did not all report healthy within the gate's time. Not retried by Temporal: a person decides. */
  EtcdUnhealthy: 'EtcdUnhealthy',
  /** A runbook run stopped because steps failed for good (on-failure abort); details list every failed host. */
  RunFailed: 'RunFailed',
  /** An operator aborted the run at the decision gate; this run's undo list ran first. */
  RunAborted: 'RunAborted',
  /** A decision or approval fits no waiting gate (update validators reject with this type). */
  DecisionRejected: 'DecisionRejected',
  /** Another operation that changes the cluster (setup, upgrade, uninstall) is running; this one did not start. */
  OperationRunning: 'OperationRunning',
  /** A drain could not evict pods within its deadline because PodDisruptionBudgets forbid it (the message names the
   * budgets and pods). Not retried by Temporal: waiting longer, evicting anyway or skipping the node is a person's
   * call at the decision gate. */
  DrainBlocked: 'DrainBlocked',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export const nonRetryableFailureTypes: FailureType[] = [
  FailureType.HostKeyMismatch,
  FailureType.HostKeyUnknown,
  FailureType.AuthFailed,
  FailureType.InvalidInput,
  FailureType.HostNotSuitable,
  FailureType.EtcdUnhealthy,
  FailureType.RunFailed,
  FailureType.RunAborted,
  FailureType.DecisionRejected,
  FailureType.OperationRunning,
  FailureType.DrainBlocked,
];

/** Base class: every error we raise on purpose carries a failure type and the host it concerns (if any). */
export class KubeadmHaError extends Error {
  constructor(
    message: string,
    readonly type: FailureType,
    readonly host?: string,
    /** The lower-level error this one explains (kept for --verbose and logs, never shown as the message). */
    options?: { cause?: unknown },
  ) {
    super(host ? `${host}: ${message}` : message, options);
    this.name = type;
  }
  get retryable(): boolean {
    return !nonRetryableFailureTypes.includes(this.type);
  }
}

/** Thrown when a remote command exits non-zero. Holds the command's *name* (not its arguments, which may be secret)
 * and the last lines of stderr, already redacted. */
export class CommandFailedError extends KubeadmHaError {
  constructor(
    host: string,
    readonly action: string,
    readonly exitCode: number | null,
    readonly stderrTail: string,
  ) {
    super(
      `${action}: exit ${exitCode ?? 'signal'}${stderrTail ? ` (${stderrTail})` : ''}`,
      FailureType.CommandFailed,
      host,
    );
  }
}

export class HostUnreachableError extends KubeadmHaError {
  constructor(host: string, detail: string) {
    super(`unreachable: ${detail}`, FailureType.HostUnreachable, host);
  }
}

export class HostKeyMismatchError extends KubeadmHaError {
  constructor(host: string, expected: string, got: string) {
    super(
      `host key changed (known_hosts has ${expected}, host offered ${got}); refusing to connect. ` +
        `If the host was reinstalled, remove its old key from known_hosts and connect again.`,
      FailureType.HostKeyMismatch,
      host,
    );
  }
}

export class HostKeyUnknownError extends KubeadmHaError {
  constructor(host: string, fingerprint: string, knownHosts: string) {
    super(
      `host key ${fingerprint} is not in ${knownHosts} (the worker's known_hosts); verify it and add it, or let the ` +
        `worker record it: ssh.hostKeyPolicy: accept-new in the inventory the CLI (or \`kubeadm2ha worker -i\`) ` +
        `reads, or \`kubeadm2ha worker --host-key-policy accept-new\``,
      FailureType.HostKeyUnknown,
      host,
    );
  }
}

export class AuthFailedError extends KubeadmHaError {
  constructor(host: string, detail: string) {
    super(`authentication failed: ${detail}`, FailureType.AuthFailed, host);
  }
}

export class CommandTimeoutError extends KubeadmHaError {
  constructor(host: string, action: string, timeoutMs: number) {
    super(`${action}: timed out after ${timeoutMs} ms`, FailureType.CommandTimeout, host);
  }
}

export class InvalidInputError extends KubeadmHaError {
  constructor(message: string) {
    super(message, FailureType.InvalidInput);
  }
}

/** Thrown by the CLI when a cluster-changing operation is asked for while another one of the cluster runs. */
export class OperationRunningError extends KubeadmHaError {
  constructor(message: string) {
    super(message, FailureType.OperationRunning);
  }
}
