/**
 * The body of a bench child process (`dist/bench/children/*.js`, read by `runChild`): runs
 * `measure`, prints its figures with the process's peak RSS as one JSON line, or the error on
 * stderr with exit code 1.
 */
export function runChildMain(measure: () => Promise<Record<string, number>>): void {
  measure().then(
    (result) =>
      process.stdout.write(
        `${JSON.stringify({ ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
      ),
    (error: unknown) => {
      process.stderr.write(
        `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
