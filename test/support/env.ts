// Environment variables a test file sets for its whole run (state dir, codec switch) and puts back afterwards.

/** Sets `vars` now; the returned function restores what was there before (deleting what was unset). */
export function setEnv(vars: Record<string, string>): () => void {
  const previous = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of Object.entries(previous)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
