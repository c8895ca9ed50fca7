// SupervisedChild's readiness: the ready text is found wherever it falls in the output, however it is chunked.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChildStartError, SupervisedChild } from '../../src/stack/child-process';

const dir = mkdtempSync(path.join(os.tmpdir(), 'child-process-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A child that writes `script`'s output, then stays up until stopped. */
function childWriting(name: string, script: string, readyTimeoutMs = 10_000): SupervisedChild {
  return new SupervisedChild({
    name,
    command: process.execPath,
    args: ['-e', `${script}; setInterval(() => {}, 1000)`],
    env: { PATH: process.env.PATH ?? '' },
    cwd: dir,
    readyText: '"msg":"history starting"',
    logFile: path.join(dir, `${name}.log`),
    readyTimeoutMs,
  });
}

/** Starts `child`, requires it running, and stops it. */
async function expectReady(child: SupervisedChild): Promise<void> {
  try {
    await child.start();
    expect(child.running).toBe(true);
  } finally {
    await child.stop(1000);
  }
}

test('the ready text at the start of one write far longer than the kept tail still makes the child ready', async () => {
  // One write: the ready line, then 64 KiB more (a server's start-up burst on a loaded machine).
  await expectReady(childWriting('burst', `process.stdout.write('{"msg":"history starting"}\\n' + 'x'.repeat(65536) + '\\n')`));
});

test('the ready text split across two writes makes the child ready', async () => {
  await expectReady(childWriting('split', `process.stdout.write('{"msg":"histo'); setTimeout(() => process.stdout.write('ry starting"}\\n'), 200)`));
});

test('without the ready text the start fails after its timeout, naming the child', async () => {
  const child = childWriting('silent', `process.stdout.write('{"msg":"history stopping"}\\n')`, 1500);
  const started = child.start();
  await expect(started).rejects.toBeInstanceOf(ChildStartError);
  await expect(started).rejects.toThrow(/silent was not ready after 1500 ms/);
  expect(child.running).toBe(false);
});
