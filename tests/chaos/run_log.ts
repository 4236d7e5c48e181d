/**
 * The run's own log: one progress line per event on stdout, with the wall-clock time and the
 * time since the start, and a copy of every line in a file of the run directory for a
 * post-mortem together with the history and the fault log.
 * @module
 */

/** Writes progress lines. */
export interface RunLog {
  /** Milliseconds since the run started. */
  elapsed(): number;
  /** Prints `chaos <iso time> +<s>s <message>` and keeps it. */
  line(message: string): void;
  /** Flushes the kept lines to the run directory. */
  flush(): Promise<void>;
}

/** Options of {@link createRunLog}. */
export interface RunLogOptions {
  /** Where the lines are copied (`<dir>/chaos.log`); none when undefined. */
  dir?: string;
  /** Where lines are printed; default stdout. */
  print?: (line: string) => void;
}

/** Creates the run log; the clock starts now. */
export function createRunLog(options: RunLogOptions = {}): RunLog {
  const started = performance.now();
  const print = options.print ?? ((line: string) => console.log(line));
  const kept: string[] = [];
  let flushed = 0;
  return {
    elapsed: () => performance.now() - started,
    line(message) {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const line = `chaos ${new Date().toISOString()} +${seconds}s ${message}`;
      kept.push(line);
      print(line);
      // Written at once, so a run that hangs or is killed still leaves its log behind.
      if (options.dir) {
        Deno.writeTextFileSync(`${options.dir}/chaos.log`, line + "\n", { append: true });
        flushed = kept.length;
      }
    },
    async flush() {
      if (!options.dir || flushed === kept.length) return;
      const lines = kept.slice(flushed);
      flushed = kept.length;
      await Deno.writeTextFile(`${options.dir}/chaos.log`, lines.join("\n") + "\n", {
        append: true,
      });
    },
  };
}
