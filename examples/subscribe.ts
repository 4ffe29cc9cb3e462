/**
 * Subscribing to changes: a mirror of the `accounts` projection kept in a Map from the change
 * stream, resuming after a known seq, and reloading when the stream says the state was replaced
 * (a rebuild) or the resume point is gone. Run by test/examples.unit.test.ts.
 */
import { Subscription } from 'rxjs';
import { JournalGapError, type AccountState, type TrutoEngine } from '../src/index.js';

export class AccountMirror {
  readonly accounts = new Map<string, AccountState>();
  /** The last seq applied: persist it with the mirror to resume after a restart. */
  lastSeq = 0;
  private subscription = new Subscription();

  constructor(private readonly engine: TrutoEngine) {}

  /** Loads every account, then follows changes from the journal's seq at load time. */
  async reload(): Promise<void> {
    this.subscription.unsubscribe();
    this.accounts.clear();
    const seq = await this.engine.lastChangeSeq(); // before the load: nothing falls between
    let afterKey: string | undefined;
    do {
      const page = await this.engine.list('accounts', {
        limit: 500,
        ...(afterKey === undefined ? {} : { afterKey }),
      });
      for (const account of page.items) this.accounts.set(account.id, account);
      afterKey = page.nextKey;
    } while (afterKey !== undefined);
    this.follow(seq);
  }

  /** Applies every change after `seq` in order; a reset or a gap reloads. */
  follow(seq: number): void {
    this.lastSeq = seq;
    this.subscription = this.engine.changesSince(seq).subscribe({
      next: (change) => {
        if (change.projection !== 'accounts') {
          this.lastSeq = change.seq;
          return;
        }
        if (change.kind === 'reset') {
          void this.reload();
          return;
        }
        this.accounts.set(change.key, change.after);
        this.lastSeq = change.seq;
      },
      error: (error: unknown) => {
        if (error instanceof JournalGapError) void this.reload();
        else throw error;
      },
    });
  }

  stop(): void {
    this.subscription.unsubscribe();
  }
}
