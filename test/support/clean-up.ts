// afterAll in the lab tests: every clean-up step runs, in order, even when an earlier one throws (the lab and a
// scratch dir holding a test CA's key must go even if closing the Temporal client fails); the first error is
// rethrown at the end.
export async function cleanUp(...steps: Array<() => unknown>): Promise<void> {
  const errors: unknown[] = [];
  for (const s of steps) {
    try {
      await s();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]));
}
