// Values the integration globalSetup (test/setup/temporal.ts) hands to test files through vitest's provide/inject.
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the per-run Temporal dev server. */
    temporalAddress: string;
    /** Namespace on that server (always 'default'). */
    temporalNamespace: string;
  }
}
