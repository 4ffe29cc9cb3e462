/**
 * The engine's timers (coalescing waits, retries, journal polling). With an RxJS scheduler they
 * run on it, so tests drive them on virtual time; without one they are Node timers that do not
 * keep the process alive.
 */
import type { SchedulerLike } from 'rxjs';

export interface Timers {
  /** Runs `task` after `ms`; the returned function cancels it. */
  after(ms: number, task: () => void): () => void;
}

export function createTimers(scheduler: SchedulerLike | undefined): Timers {
  if (scheduler) {
    return {
      after(ms, task) {
        const subscription = scheduler.schedule(task, ms);
        return () => subscription.unsubscribe();
      },
    };
  }
  return {
    after(ms, task) {
      const timer = setTimeout(task, ms);
      timer.unref();
      return () => clearTimeout(timer);
    },
  };
}
