// checkCertificates: how long every certificate in the cluster has left. Runbook: plan which files to read → read
// them on every host at once (bounded) → one table sorted by days left → record the fewest days left in the memo,
// so the Web UI and `kubeadm2ha status` show it without opening the result. Read-only: a host that cannot be
// reached is reported and the others still are, because the report is the product (as in preflight).
//
// A Temporal Schedule (`kubeadm2ha certs schedule`) starts this workflow daily; each run's result is the record.
import { ApplicationFailure, upsertMemo } from '@temporalio/workflow';
import { InvalidInputError } from '../errors.js';
import {
  buildCertReport,
  CERTS_MEMO_MIN_DAYS_LEFT,
  CERTS_MEMO_SUMMARY,
  planCertificateCheck,
  type CertReport,
  type CertsInput,
  type CertsPlan,
  type HostCertificates,
} from '../plan/certs.js';
import { forEachLimited } from './concurrency.js';
import { failureMessage } from './failure-info.js';
import { readActivities } from './activity-options.js';
import { acceptInput } from './input.js';
import { beginOperation } from './operation.js';

const { readHostCertificates } = readActivities;

export async function checkCertificates(raw: CertsInput): Promise<CertReport> {
  const input = acceptInput('checkCertificates', raw);
  let plan: CertsPlan;
  try {
    plan = planCertificateCheck(input);
  } catch (err) {
    // Bad input fails the run for good instead of retrying the workflow task forever.
    if (err instanceof InvalidInputError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
  const progress = beginOperation('certs', 'certs', plan);

  const results: HostCertificates[] = [];
  const unreachable: { host: string; message: string }[] = [];
  progress.phase('reading certificates');
  await forEachLimited(plan.hosts, input.inventory.ssh.maxConcurrency, async ({ target }) => {
    progress.set(target.name, 'read', 'running');
    try {
      const r = await readHostCertificates({ host: { target, ssh: input.inventory.ssh }, sources: plan.sources });
      results.push(r);
      progress.set(target.name, 'read', r.problems.length ? 'warn' : 'done', `${r.certificates.length} certificates`);
    } catch (err) {
      const message = failureMessage(err);
      unreachable.push({ host: target.name, message });
      progress.set(target.name, 'read', 'failed', message);
    }
  });

  // Workflow time: deterministic on replay, and the moment the hosts were read.
  const report = buildCertReport(plan, results, unreachable, Date.now());
  upsertMemo({
    [CERTS_MEMO_MIN_DAYS_LEFT]: report.minDaysLeft,
    [CERTS_MEMO_SUMMARY]: `${report.expired} expired, ${report.expiring} under ${report.thresholdDays} days, ${report.problems.length} problems`,
  });
  progress.finish();
  return report;
}
