// The node test environment, plus a check once a test file is done (after its afterAll hooks):
// whatever the file opened that still keeps the process alive fails the file, listed by type,
// instead of keeping jest from exiting. Handles (sockets, servers, child processes, message ports)
// are counted by type against the count before the file ran; timers (jest keeps timers of its own
// in the same process, so counts would not tell) are the ones the file's code set and neither
// fired nor cleared nor unref'd.
import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment';
import NodeEnvironment from 'jest-environment-node';

/** How long closing handles (a socket's FIN, a child being reaped) may take to go away. */
const SETTLE_MS = 5000;
/** Counted by the timer wrappers instead (their counts move with jest's own timers). */
const TIMER_TYPES = new Set(['Timeout', 'Immediate']);

type Tally = Map<string, number>;
/** A Node timer; `_destroyed` is set once it fired (non-repeating) or was cleared. */
type Timer = NodeJS.Timeout & { _destroyed?: boolean };

function handleTally(): Tally {
  const counts: Tally = new Map();
  for (const type of process.getActiveResourcesInfo()) if (!TIMER_TYPES.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

export default class LeakCheckEnvironment extends NodeEnvironment {
  private readonly testPath: string;
  private baseline: Tally = new Map();
  private readonly timers = new Set<Timer>();

  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    super(config, context);
    this.testPath = context.testPath;
    // Code run by the file (its modules and node_modules included) takes its timers from this global.
    const global = this.global as unknown as { setTimeout: typeof setTimeout; setInterval: typeof setInterval };
    for (const name of ['setTimeout', 'setInterval'] as const) {
      const real = global[name] as (...args: unknown[]) => Timer;
      const tracked = (...args: unknown[]): Timer => {
        const timer = real(...args);
        if (this.timers.size >= 1000) for (const t of this.timers) if (t._destroyed) this.timers.delete(t);
        this.timers.add(timer);
        return timer;
      };
      global[name] = Object.assign(tracked, real) as never; // keeps setTimeout's promisified form
    }
  }

  override async setup(): Promise<void> {
    await super.setup();
    // Created on first use: made here, so that a file's first log line does not count as its handle.
    void process.stdout;
    void process.stderr;
    this.baseline = handleTally();
  }

  /** What the file left open that keeps the process alive, by type with how many. */
  private leaked(): string[] {
    const extra: string[] = [];
    for (const [type, n] of handleTally()) {
      const more = n - (this.baseline.get(type) ?? 0);
      if (more > 0) extra.push(`${type} x${more}`);
    }
    const timers = [...this.timers].filter((t) => !t._destroyed && t.hasRef()).length;
    if (timers > 0) extra.push(`timer x${timers}`);
    return extra.sort();
  }

  override async teardown(): Promise<void> {
    const deadline = Date.now() + SETTLE_MS;
    let leaked = this.leaked();
    while (leaked.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      leaked = this.leaked();
    }
    this.timers.clear();
    await super.teardown();
    if (leaked.length > 0) {
      throw new Error(
        `${this.testPath} left open what keeps the process alive (${leaked.join(', ')}) ${SETTLE_MS} ms after its last afterAll hook: ` +
          'stop every worker, pool, server, connection, child process and timer the file started.',
      );
    }
  }
}
