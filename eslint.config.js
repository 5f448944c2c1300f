// Type-checked lint for everything, plus a sandbox rule for workflow and planner code:
// those run inside Temporal's deterministic V8 isolate and must not reach Node built-ins or I/O libraries.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const sandboxForbidden = [
  { group: ['node:*', 'fs', 'path', 'os', 'child_process', 'net', 'crypto'], message: 'Not workflow-safe: do I/O in an activity.' },
  // zod is allowed: pure JS without I/O, and workflows validate their input with the CLI's own schema
  // (src/workflows/input.ts).
  { group: ['ssh2', 'node-forge', 'yaml', 'commander'], message: 'Not workflow-safe: use it in an activity or the CLI.' },
];
// Inventory modules the workflows import (schema and cross-field rules) are held to the same rule.
const workflowSafeInventory = ['schema', 'rules', 'rules-network', 'issues', 'locate', 'ipv4'].map(
  (m) => `src/inventory/${m}.ts`,
);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/plan/**/*.ts', 'src/codec/unencrypted.ts', ...workflowSafeInventory],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            ...sandboxForbidden.map((p) => ({ ...p, allowTypeImports: true })),
            { group: ['../activities/*', '../activities'], message: 'Workflows import activities with `import type` only.', allowTypeImports: true },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
