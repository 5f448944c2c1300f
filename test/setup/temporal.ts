// Placeholder until the Temporal server provisioning lands: replaced by a real dev server per test run.
export function setup(): void {}
export function teardown(): void {}
