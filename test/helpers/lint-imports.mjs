// Lints snippets of code as if they were files at given paths, with the project's ESLint config but
// only its import rules (no type information needed). Input (stdin): [{ filePath, code }]; output: the
// messages of each, as JSON. Run in plain Node: ESLint loads its config with import(), which jest's VM refuses.
import process from 'node:process';
import { ESLint } from 'eslint';

let input = '';
for await (const chunk of process.stdin) input += String(chunk);
const cases = /** @type {Array<{ filePath: string; code: string }>} */ (JSON.parse(input));
const eslint = new ESLint({
  cwd: process.cwd(),
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
});
const out = [];
for (const { filePath, code } of cases) {
  const [result] = await eslint.lintText(code, { filePath, warnIgnored: true });
  out.push({ filePath, messages: (result?.messages ?? []).map((m) => ({ ruleId: m.ruleId, message: m.message })) });
}
process.stdout.write(`${JSON.stringify(out)}\n`);
