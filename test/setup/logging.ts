// Every integration test process logs through the redacting logger, at WARN (KUBEADM2HA_LOG_LEVEL), so worker
// start/stop chatter does not bury test output and no test log shows a secret the SDK would print itself.
import { installRedactingLogger } from '../../src/worker/runtime-logging.js';

process.env.KUBEADM2HA_LOG_LEVEL ??= 'WARN';
installRedactingLogger();
