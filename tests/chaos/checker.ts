/**
 * The checker: compares the whole history of writes with what the agent and the cloud stored.
 *
 * - **lost**: acknowledged (2xx) but absent from the cloud — or stored on the agent and never
 *   reaching the cloud.
 * - **duplicated**: one write stored at more than one seq (or one seq stored twice).
 * - **phantom**: stored in the cloud but never written by the workload, or not what the agent
 *   holds at that seq (absent there, or a different record).
 * - **unacknowledged but committed** (allowed, counted): the client got no answer — the agent
 *   was killed or frozen mid-request — yet the write was committed and synced.
 * - **rejected but stored** (a violation): a definite non-2xx answer, yet the write is stored.
 * - **lost locally** (a violation): acknowledged, but the agent's own database lacks it.
 * @module
 */
import {
  agentEventTexts,
  agentRecords,
  cloudEventTexts,
  cloudRecords,
  compareRecords,
  type RecordMap,
  type StoredEventText,
} from "../support/verify.ts";
import { WORKLOAD_SENSOR, type WriteEntry } from "./workload.ts";

/** One side's stored records of one device. */
export interface StoredSide {
  /** seq → `reading:<sensor>:<value>` or `event:<id>` (see tests/support/verify.ts). */
  records: RecordMap;
  /** seqs stored more than once. */
  duplicateSeqs: number[];
  /** seq → event id and message. */
  events: Map<number, StoredEventText>;
}

/** The verdict for one device. */
export interface DeviceVerdict {
  deviceId: string;
  lost: number;
  duplicated: number;
  phantom: number;
  unacknowledgedCommitted: number;
  rejectedStored: number;
  lostLocally: number;
  /** Records the cloud holds for this device. */
  cloudRecords: number;
  /** Identities checked against the history. */
  checked: number;
  /** A few examples of each problem, for the report. */
  examples: string[];
}

/** What the history says about a write, per identity. */
function identities(entry: WriteEntry): string[] {
  if (entry.kind === "event") return [`message:${entry.message}`];
  return Array.from(
    { length: entry.count },
    (_, i) => `reading:${WORKLOAD_SENSOR}:${entry.first + i}`,
  );
}

/** seq → identity: readings as their fingerprint, events by their message. */
function identityBySeq(side: StoredSide): Map<number, string> {
  const map = new Map<number, string>();
  for (const [seq, fingerprint] of side.records) {
    if (fingerprint.startsWith("event:")) {
      const text = side.events.get(seq);
      map.set(seq, text ? `message:${text.message}` : fingerprint);
    } else {
      map.set(seq, fingerprint);
    }
  }
  return map;
}

function seqsByIdentity(bySeq: Map<number, string>): Map<string, number[]> {
  const map = new Map<string, number[]>();
  for (const [seq, identity] of bySeq) {
    const seqs = map.get(identity);
    if (seqs) seqs.push(seq);
    else map.set(identity, [seq]);
  }
  return map;
}

/** Judges one device's history against both sides. Pure: no I/O. */
export function checkDevice(
  deviceId: string,
  history: WriteEntry[],
  agent: StoredSide,
  cloud: StoredSide,
): DeviceVerdict {
  const examples: string[] = [];
  const note = (what: string) => {
    if (examples.length < 12) examples.push(`${deviceId}: ${what}`);
  };
  const agentBySeq = identityBySeq(agent);
  const cloudBySeq = identityBySeq(cloud);
  const agentIds = seqsByIdentity(agentBySeq);
  const cloudIds = seqsByIdentity(cloudBySeq);

  const lostIds = new Set<string>();
  const phantomSeqs = new Set<number>();
  let unacknowledgedCommitted = 0;
  let rejectedStored = 0;
  let lostLocally = 0;
  let checked = 0;
  const written = new Set<string>();
  for (const entry of history) {
    if (entry.agent !== deviceId) continue;
    for (const identity of identities(entry)) {
      checked++;
      written.add(identity);
      const inCloud = cloudIds.has(identity);
      const inAgent = agentIds.has(identity);
      if (entry.outcome === "acknowledged") {
        if (!inCloud) {
          lostIds.add(identity);
          note(`lost: acknowledged ${identity} (status ${entry.status}) is not in the cloud`);
        }
        if (!inAgent) {
          lostLocally++;
          note(`lost locally: acknowledged ${identity} is not in the agent's database`);
        }
      } else if (entry.outcome === "rejected") {
        if (inCloud || inAgent) {
          rejectedStored++;
          note(`rejected (status ${entry.status}, ${entry.detail}) but stored: ${identity}`);
        }
      } else if (inCloud) {
        unacknowledgedCommitted++;
      }
    }
  }

  // Everything the agent holds must reach the cloud, answered or not.
  const agentVsCloud = compareRecords(agent.records, cloud.records);
  for (const seq of agentVsCloud.lost) {
    const identity = agentBySeq.get(seq)!;
    if (!lostIds.has(identity)) note(`lost: seq ${seq} (${identity}) is on the agent only`);
    lostIds.add(identity);
  }
  for (const seq of [...agentVsCloud.phantom, ...agentVsCloud.mismatched]) {
    phantomSeqs.add(seq);
    note(
      `phantom: cloud seq ${seq} (${cloudBySeq.get(seq)}) vs agent ${
        agentBySeq.get(seq) ?? "(nothing)"
      }`,
    );
  }
  for (const [seq, identity] of cloudBySeq) {
    if (!written.has(identity) && !phantomSeqs.has(seq)) {
      phantomSeqs.add(seq);
      note(`phantom: cloud seq ${seq} holds ${identity}, which the workload never wrote`);
    }
  }

  let duplicated = cloud.duplicateSeqs.length + agent.duplicateSeqs.length;
  for (const [identity, seqs] of [...cloudIds, ...agentIds]) {
    if (seqs.length > 1) {
      duplicated += seqs.length - 1;
      note(`duplicated: ${identity} stored at seqs ${seqs.slice(0, 5).join(", ")}`);
    }
  }
  return {
    deviceId,
    lost: lostIds.size,
    duplicated,
    phantom: phantomSeqs.size,
    unacknowledgedCommitted,
    rejectedStored,
    lostLocally,
    cloudRecords: cloud.records.size,
    checked,
    examples,
  };
}

/** Reads one device's records from the agent's data dir and the cloud's. */
export function loadSides(
  agentDataDir: string,
  cloudDataDir: string,
  deviceId: string,
): { agent: StoredSide; cloud: StoredSide } {
  const cloud = cloudRecords(cloudDataDir, deviceId);
  return {
    agent: {
      records: agentRecords(agentDataDir),
      duplicateSeqs: [],
      events: agentEventTexts(agentDataDir),
    },
    cloud: {
      records: cloud.map,
      duplicateSeqs: cloud.duplicates,
      events: cloudEventTexts(cloudDataDir, deviceId),
    },
  };
}
