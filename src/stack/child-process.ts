// One service of the chaos run as a real OS process: started, awaited until it says it is ready,
// SIGKILLed and started again. Its output goes to a log file of the run (appended across restarts).
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { StartupError } from '../errors';

export type ChildSpec = {
  /** Name in logs and the report, e.g. `worker-1`. */
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Text in its output that means it is ready. */
  readyText: string;
  logFile: string;
  readyTimeoutMs?: number;
  /** After `readyText`: resolves once the service really answers (e.g. a first call succeeds). */
  serving?: () => Promise<void>;
};

export class ChildStartError extends StartupError {
  override readonly name = 'ChildStartError';
}

/** The last output kept in memory, to quote when a start fails. */
const TAIL_CHARS = 4000;

export class SupervisedChild {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #expectingExit = false;
  #log: WriteStream;
  #tail = '';
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  /** Exits nobody asked for (a crash, or giving up on an unreachable server). */
  unexpectedExits = 0;
  starts = 0;

  constructor(
    readonly spec: ChildSpec,
    private readonly onUnexpectedExit: (child: SupervisedChild, code: number | null, signal: NodeJS.Signals | null) => void = () => {},
  ) {
    this.#log = createWriteStream(spec.logFile, { flags: 'a' });
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The signal that ended the last run (null while it runs, or after a plain exit). */
  get signalCode(): NodeJS.Signals | null {
    return this.#child?.signalCode ?? null;
  }

  /** Spawns the process and resolves once `readyText` appears in its output. */
  async start(): Promise<void> {
    const { spec } = this;
    this.starts += 1;
    this.#expectingExit = false;
    this.#tail = '';
    this.#log.write(`\n=== start #${this.starts} at ${new Date().toISOString()} ===\n`);
    const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let ready = false;
    const readyOrExit = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ChildStartError(`${spec.name} was not ready after ${spec.readyTimeoutMs ?? 60_000} ms (log: ${spec.logFile}):\n${this.#tail}`)),
        spec.readyTimeoutMs ?? 60_000,
      );
      const onData = (d: Buffer): void => {
        this.#log.write(d);
        const text = d.toString();
        // Searched before the tail is cut: a chunk longer than the tail may carry readyText far from its end.
        const searched = this.#tail.slice(-(spec.readyText.length - 1)) + text;
        this.#tail = (this.#tail + text).slice(-TAIL_CHARS);
        if (!ready && searched.includes(spec.readyText)) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new ChildStartError(`${spec.name} could not be spawned: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        this.#log.write(`=== exited (code ${code}, signal ${signal}) ===\n`);
        if (!ready) {
          clearTimeout(timer);
          reject(new ChildStartError(`${spec.name} exited (code ${code}, signal ${signal}) before it was ready (log: ${spec.logFile}):\n${this.#tail}`));
        } else if (!this.#expectingExit) {
          this.unexpectedExits += 1;
          this.onUnexpectedExit(this, code, signal);
        }
      });
    });
    try {
      await readyOrExit;
      await spec.serving?.();
    } catch (err) {
      await this.kill('SIGKILL');
      throw err instanceof ChildStartError
        ? err
        : new ChildStartError(`${spec.name} started but does not answer: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Starts it, trying again each second after a failed start (a server it needs may be restarting), for up
   * to `withinMs` or until `giveUp` aborts.
   */
  async startUntilUp(giveUp: AbortSignal, withinMs = 120_000): Promise<void> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        await this.start();
        return;
      } catch (err) {
        if (!(err instanceof ChildStartError) || Date.now() > deadline || giveUp.aborted) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** Runs `fn` after every earlier serial operation on this child (kill-and-restart never overlaps a restart). */
  serially<T>(fn: () => Promise<T>): Promise<T> {
    this.#pending += 1;
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run.finally(() => {
      this.#pending -= 1;
    });
  }

  /** A restart or other serial operation is under way. */
  get busy(): boolean {
    return this.#pending > 0;
  }

  /** Sends `signal` (if it still runs) and waits for the exit. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    this.#expectingExit = true;
    if (this.running) this.#child?.kill(signal);
    await this.#exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    this.#expectingExit = true;
    if (this.running) {
      this.#child?.kill('SIGTERM');
      const timer = setTimeout(() => this.#child?.kill('SIGKILL'), graceMs);
      await this.#exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.#log.end(resolve));
  }
}
