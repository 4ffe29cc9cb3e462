/**
 * src/engine/rx.ts takes rxjs's values from their own modules so that start-up does not load the
 * whole library. They must be the very values 'rxjs' exports: an Observable the engine returns
 * has to be one to a user's `rxjs` (instanceof, operators, interop).
 */
import * as rxjs from 'rxjs';
import { describe, expect, it } from 'vitest';
import * as rx from '../../src/engine/rx.js';

describe('the rxjs values the engine uses', () => {
  it("are the very ones 'rxjs' exports", () => {
    const names = Object.keys(rx);
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) {
      expect(rx[name as keyof typeof rx], name).toBe(rxjs[name as keyof typeof rxjs]);
    }
  });

  it('make Observables that rxjs operators take as their own', async () => {
    const seen = await rxjs.firstValueFrom(
      new rx.Observable<number>((subscriber) => subscriber.next(2)).pipe(rxjs.map((n) => n * 3)),
    );
    expect(seen).toBe(6);
    expect(new rx.Subject()).toBeInstanceOf(rxjs.Observable);
  });
});
