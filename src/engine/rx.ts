/**
 * The rxjs values truto-state uses, each from its own module. `import … from 'rxjs'` loads the
 * whole library (its CommonJS index requires 225 files: about 40 ms of every process's start-up,
 * the CLI's included); these modules load about 10 ms of it. Types are still imported from
 * 'rxjs'. These are the very classes and functions 'rxjs' exports (the same files), so what the
 * engine returns is an Observable to every rxjs user; test/rx.unit.test.ts checks that each one
 * is, so an rxjs release that moves one fails there, not in a user's app.
 */
export { Observable } from 'rxjs/internal/Observable';
export { Subject } from 'rxjs/internal/Subject';
export { config } from 'rxjs/internal/config';
export { concat } from 'rxjs/internal/observable/concat';
export { of } from 'rxjs/internal/observable/of';
export { throwError } from 'rxjs/internal/observable/throwError';
export { catchError } from 'rxjs/internal/operators/catchError';
export { filter } from 'rxjs/internal/operators/filter';
export { map } from 'rxjs/internal/operators/map';
export { startWith } from 'rxjs/internal/operators/startWith';
