// Every symbol the library exports from an entry point carries TSDoc: read by the TypeScript compiler
// from the entry points' sources, the way an editor shows it to a user.
import path from 'node:path';
import ts from 'typescript';

const SRC = path.join(__dirname, '../../packages/idempotent-sagas/src');
const ENTRIES = ['workflow', 'activity', 'store', 'fastify', 'testing'];

function undocumented(): Record<string, string[]> {
  const files = ENTRIES.map((e) => path.join(SRC, e, 'index.ts'));
  const program = ts.createProgram(files, { strict: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true });
  const checker = program.getTypeChecker();
  const missing: Record<string, string[]> = {};
  for (const [i, file] of files.entries()) {
    const source = program.getSourceFile(file);
    const module = source && checker.getSymbolAtLocation(source);
    if (!module) throw new Error(`cannot read ${file}`);
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() === '') (missing[ENTRIES[i]!] ??= []).push(exported.name);
    }
  }
  return missing;
}

test('every exported symbol of every entry point has TSDoc', () => {
  expect(undocumented()).toEqual({});
}, 60_000);
