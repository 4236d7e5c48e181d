/**
 * A supervised process of the system under test (cloud, agent, broker node) that faults stop,
 * pause and restart; an exit no fault asked for is reported.
 * @module
 */
import { type RunningProcess, waitForOk } from "../support/process.ts";

/** The cloud's own fault injection killed it (`OUTPOST_FAULT_CRASH_AFTER_COMMITS`). */
function injectedKill(output: string[]): boolean {
  return output.some((line) => line.includes("fault injection: killing"));
}

/** Why a component's process ended. */
export interface ExitReport {
  component: Component;
  status: Deno.CommandStatus;
  /** The fault injection inside the cloud killed it on purpose. */
  injected: boolean;
  lastLines: string[];
}

/** A component process that faults stop, pause and restart. */
export class Component {
  readonly name: string;
  readonly url: string;
  process: RunningProcess | undefined;
  /** Set while a fault has deliberately stopped or killed it. */
  expectingExit = false;
  paused = false;
  restarts = 0;
  #launch: (extraEnv: Record<string, string>) => RunningProcess;
  #onExit: (report: ExitReport) => void;
  /** Output of earlier incarnations, kept for the run directory. */
  readonly pastOutput: string[] = [];

  #ready: (process: RunningProcess) => Promise<void>;
  #direct: boolean;

  constructor(options: {
    name: string;
    url: string;
    launch: (extraEnv: Record<string, string>) => RunningProcess;
    onExit: (report: ExitReport) => void;
    /** Resolves once it serves; default: `/readyz` answers 200. */
    ready?: (process: RunningProcess) => Promise<void>;
    /** The process is the component itself, not a `deno task` runner in front of it. */
    direct?: boolean;
  }) {
    this.#direct = options.direct ?? false;
    this.name = options.name;
    this.url = options.url;
    this.#launch = options.launch;
    this.#onExit = options.onExit;
    this.#ready = options.ready ?? ((process) => waitForOk(`${this.url}/readyz`, 60_000, process));
  }

  /** True while its process runs. */
  get running(): boolean {
    return this.process !== undefined;
  }

  /** Starts it and waits for `/readyz`. */
  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    if (this.process) throw new Error(`${this.name} is already running`);
    this.expectingExit = false;
    this.paused = false;
    const process = this.#launch(extraEnv);
    this.process = process;
    process.status.then((status) => {
      if (this.process !== process) return;
      this.process = undefined;
      this.pastOutput.push(...process.output);
      const lastLines = process.output.slice(-15);
      if (!this.expectingExit) {
        const injected = injectedKill(process.output);
        this.#onExit({ component: this, status, injected, lastLines });
      }
    });
    // A process that dies during its start is not waited for until the readiness timeout: an
    // armed cloud can kill itself on purpose within 100 ms of its first commit (the NATS backend
    // hands it a backlog at once), and the restart its exit triggers needs the lock this start
    // may be holding.
    const ready = this.#ready(process).then(() => true);
    ready.catch(() => {});
    const isReady = await Promise.race([ready, process.status.then(() => false)]);
    if (!isReady) {
      if (injectedKill(process.output)) return; // Counted and restarted by the exit handler.
      throw new Error(
        `${this.name} exited during its start:\n${process.output.slice(-15).join("\n")}`,
      );
    }
  }

  /** Restarts it after it ended. */
  async restart(extraEnv: Record<string, string> = {}): Promise<void> {
    this.restarts++;
    await this.start(extraEnv);
  }

  /** Sends `signal` and, for a stopping signal, waits until it ended. */
  async kill(signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<Deno.CommandStatus | undefined> {
    const process = this.process;
    if (!process) return undefined;
    this.expectingExit = true;
    if (this.paused) this.resume();
    process.signal(signal);
    const timer = setTimeout(() => process.signal("SIGKILL"), 15_000);
    const status = await process.status;
    clearTimeout(timer);
    // The status handler runs first; wait for it so `running` is false on return.
    while (this.process === process) await new Promise((resolve) => setTimeout(resolve, 5));
    return status;
  }

  /** SIGSTOP: the process stays, frozen. */
  pause(): void {
    this.process?.signal("SIGSTOP");
    this.paused = true;
  }

  /** SIGCONT. */
  resume(): void {
    this.process?.signal("SIGCONT");
    this.paused = false;
  }

  /** The component's own pid (the child of the `deno task` runner), for RSS and fd readings. */
  async componentPid(): Promise<number | undefined> {
    const pid = this.process?.pid;
    if (pid === undefined || this.#direct) return pid;
    try {
      const children = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`);
      const first = Number(children.trim().split(/\s+/)[0]);
      return Number.isInteger(first) && first > 0 ? first : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every line it printed, all incarnations. */
  allOutput(): string[] {
    return [...this.pastOutput, ...(this.process?.output ?? [])];
  }
}
