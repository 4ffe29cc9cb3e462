/**
 * Single flight: a task that runs at most once at a time, where a request made while it runs
 * causes exactly one more run after it (never a pile of runs, never a request lost). Used by the
 * live pump (appends announced during a batch) and the journal reader (changes committed during
 * a read).
 */
export interface SingleFlight {
  /** Runs the task, or asks the current run for one more; resolves when that run has finished. */
  run(): Promise<void>;
  /** The run under way, if any. */
  readonly current: Promise<void> | undefined;
}

/**
 * @example
 * const pull = singleFlight(async () => publish(await readNewChanges()));
 * pull.run(); pull.run(); // the second call runs once more after the first, not concurrently
 */
export function singleFlight(task: () => Promise<void>): SingleFlight {
  let current: Promise<void> | undefined;
  let again = false;
  return {
    run() {
      if (current) {
        again = true;
        return current;
      }
      current = (async () => {
        do {
          again = false;
          await task();
        } while (again);
      })().finally(() => {
        current = undefined;
      });
      return current;
    },
    get current() {
      return current;
    },
  };
}
