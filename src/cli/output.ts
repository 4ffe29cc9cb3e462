/** Output helpers for commands; no engine here, so a command that only prints loads none. */

/** Writes one line, waiting when the stream's buffer is full (large dumps into a pipe). */
export async function writeLine(stream: NodeJS.WritableStream, line: string): Promise<void> {
  if (!stream.write(`${line}\n`)) {
    await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
  }
}
