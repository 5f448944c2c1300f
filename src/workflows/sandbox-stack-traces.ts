// Preloaded into the workflow sandbox (BundleOptions.preloadModules, see src/temporal/bundle.ts) before the SDK
// freezes the sandbox's globals, so it holds for every workflow the worker runs: errors and promises created by
// workflow code carry no stack trace. The SDK's promise hook takes one for every promise a workflow creates (for the
// `__stack_trace` query, the Web UI's Stack Trace tab) and maps each frame through the bundle's source map; that was
// a third of the CPU of a 20-host preflight's workflow thread (bench/RESULTS.md). Deterministic: no workflow reads
// a stack. Workers started with KUBEADM2HA_WORKFLOW_STACK_TRACES=1 bundle without this module and keep them.
Error.stackTraceLimit = 0;

export {};
