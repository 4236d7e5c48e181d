/**
 * Exactly-once checks: compare what an agent stored with what the cloud stored, record by
 * record (seq and value), reading both SQLite files directly.
 * @module
 */
import Database from "libsql";

/** One device's records as stored: seq → a fingerprint of the record. */
export type RecordMap = Map<number, string>;

function open(path: string): Database.Database {
  return new Database(path, { readonly: true });
}

/** Every reading and event the agent holds (by seq). */
export function agentRecords(dataDir: string): RecordMap {
  const db = open(`${dataDir}/agent.db`);
  try {
    const map: RecordMap = new Map();
    for (
      const row of db.prepare("SELECT seq, sensor, value FROM readings").all() as {
        seq: number;
        sensor: string;
        value: number;
      }[]
    ) {
      map.set(row.seq, `reading:${row.sensor}:${row.value}`);
    }
    for (
      const row of db.prepare("SELECT seq, id FROM events").all() as { seq: number; id: string }[]
    ) {
      map.set(row.seq, `event:${row.id}`);
    }
    return map;
  } finally {
    db.close();
  }
}

/** Every reading and event the cloud holds for `deviceId` (by seq), and duplicates if any. */
export function cloudRecords(
  dataDir: string,
  deviceId: string,
): { map: RecordMap; duplicates: number[] } {
  const db = open(`${dataDir}/cloud.db`);
  try {
    const map: RecordMap = new Map();
    const duplicates: number[] = [];
    const add = (seq: number, fingerprint: string) => {
      if (map.has(seq)) duplicates.push(seq);
      map.set(seq, fingerprint);
    };
    for (
      const row of db.prepare("SELECT seq, sensor, value FROM readings WHERE device_id = ?").all(
        deviceId,
      ) as { seq: number; sensor: string; value: number }[]
    ) {
      add(Number(row.seq), `reading:${row.sensor}:${row.value}`);
    }
    for (
      const row of db.prepare("SELECT seq, id FROM events WHERE device_id = ?").all(deviceId) as {
        seq: number;
        id: string;
      }[]
    ) {
      add(Number(row.seq), `event:${row.id}`);
    }
    return { map, duplicates };
  } finally {
    db.close();
  }
}

/**
 * Devices of a cloud database whose row counters (`readings_count`, `events_count`, kept by the
 * ingest in each batch's transaction) differ from `count(*)`, as one line each; empty when all
 * agree.
 */
export function cloudCounterMismatches(dataDir: string): string[] {
  const db = open(`${dataDir}/cloud.db`);
  try {
    const rows = db.prepare(`
      SELECT d.id, d.readings_count, d.events_count,
        (SELECT count(*) FROM readings r WHERE r.device_id = d.id) AS readings,
        (SELECT count(*) FROM events e WHERE e.device_id = d.id) AS events
      FROM devices d`).all() as {
      id: string;
      readings_count: number;
      events_count: number;
      readings: number;
      events: number;
    }[];
    return rows.filter((row) =>
      Number(row.readings_count) !== Number(row.readings) ||
      Number(row.events_count) !== Number(row.events)
    ).map((row) =>
      `${row.id}: counters ${row.readings_count} readings, ${row.events_count} events; stored ${row.readings}, ${row.events}`
    );
  } finally {
    db.close();
  }
}

/** One stored event's id and message. */
export interface StoredEventText {
  id: string;
  message: string;
}

/** Every event's id and message an agent holds (by seq). */
export function agentEventTexts(dataDir: string): Map<number, StoredEventText> {
  const db = open(`${dataDir}/agent.db`);
  try {
    const rows = db.prepare("SELECT seq, id, message FROM events").all() as (
      & StoredEventText
      & { seq: number }
    )[];
    return new Map(rows.map((row) => [Number(row.seq), { id: row.id, message: row.message }]));
  } finally {
    db.close();
  }
}

/** Every event's id and message the cloud holds for `deviceId` (by seq). */
export function cloudEventTexts(dataDir: string, deviceId: string): Map<number, StoredEventText> {
  const db = open(`${dataDir}/cloud.db`);
  try {
    const rows = db.prepare("SELECT seq, id, message FROM events WHERE device_id = ?").all(
      deviceId,
    ) as (StoredEventText & { seq: number })[];
    return new Map(rows.map((row) => [Number(row.seq), { id: row.id, message: row.message }]));
  } finally {
    db.close();
  }
}

/** Lost (agent has, cloud lacks), phantom (cloud has, agent lacks) and mismatched seqs. */
export function compareRecords(agent: RecordMap, cloud: RecordMap) {
  const lost: number[] = [];
  const mismatched: number[] = [];
  for (const [seq, fingerprint] of agent) {
    const other = cloud.get(seq);
    if (other === undefined) lost.push(seq);
    else if (other !== fingerprint) mismatched.push(seq);
  }
  const phantom = [...cloud.keys()].filter((seq) => !agent.has(seq));
  return { lost, phantom, mismatched };
}
