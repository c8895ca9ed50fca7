// Each log line of an activity names the saga step its input's keys belong to.
import { log } from '@temporalio/activity';
import type { LogLevel, LogMetadata } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { stepLogInterceptors } from 'idempotent-sagas/activity';

function logsOf(workflowId: string, input: unknown): Promise<LogMetadata[]> {
  const lines: LogMetadata[] = [];
  const record = (_level: LogLevel, _message: string, meta?: LogMetadata) => void lines.push(meta ?? {});
  const logger = {
    log: record,
    trace: () => {},
    debug: () => {},
    info: (m: string, meta?: LogMetadata) => record('INFO', m, meta),
    warn: () => {},
    error: () => {},
  };
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId, runId: 'run-1' } }, { interceptors: [stepLogInterceptors], logger });
  return env.run(async (_input: unknown) => void log.info('working'), input).then(() => lines);
}

test('a forward step, a compensation and a call without keys', async () => {
  expect((await logsOf('order-1', { key: 'order-1/reserve:SKU-1' }))[0]).toMatchObject({ step: 'reserve:SKU-1' });
  expect((await logsOf('order-1', { forwardKey: 'order-1/charge', compensationKey: 'order-1/charge/compensate' }))[0]).toMatchObject({
    step: 'compensate charge',
  });
  expect((await logsOf('order-1', { note: 'no key' }))[0]).not.toHaveProperty('step');
  // A key of another workflow names no step of this one.
  expect((await logsOf('order-1', { key: 'order-2/charge' }))[0]).not.toHaveProperty('step');
});
