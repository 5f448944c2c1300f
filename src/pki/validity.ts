// Validity windows, shared by CAs and leaf certificates.
import { InvalidInputError } from '../errors.js';

/** kubeadm backdates notBefore by 5 minutes so a host whose clock runs a little behind still accepts a fresh
 * certificate; we do the same. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;

export function validityWindow(validityDays: number, now = new Date()): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(validityDays) || validityDays <= 0) {
    throw new InvalidInputError(`validity must be a positive number of days, got ${validityDays}`);
  }
  return validityWindowSeconds((validityDays * DAY_MS) / 1000, now);
}

/** For short-lived client certificates (a kubeconfig for an hour, like the seed's token). */
export function validityWindowSeconds(seconds: number, now = new Date()): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new InvalidInputError(`validity must be a positive number of seconds, got ${seconds}`);
  }
  // Whole seconds: X.509 times have no fractions, and equal inputs should give equal certificates' windows.
  const t = Math.floor(now.getTime() / 1000) * 1000;
  return { notBefore: new Date(t - CLOCK_SKEW_MS), notAfter: new Date(t + seconds * 1000) };
}
