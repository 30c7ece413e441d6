import type { SummaryFigure } from '../analyzer/summary.js';
import type { HostFingerprint } from '../baselines/host-fingerprint.js';

/** Where a recorded result came from. */
export type HistorySource = 'run' | 'gate' | 'capacity' | 'import';

/** One result in the history: its figures, and the commit, branch, time and host it was measured on. */
export interface HistoryEntry {
  /** ISO 8601, UTC: when the result was measured (the file's own time, not when it was recorded). */
  measuredAt: string;
  commit: string | null;
  branch: string | null;
  host: HostFingerprint;
  /** The scenario's name (`auth`, `api-stress`, …), or `capacity` for a capacity report. */
  scenario: string;
  source: HistorySource;
  /** The tool that measured it (`open-model`, `k6`, `artillery`, …, or `capacity-model`). */
  engine: string;
  /** Figure name → value, unit, direction and gate (as `summarizeRun` names them). */
  figures: Record<string, SummaryFigure>;
}

/** One point of a series: one figure of one recorded result. */
export interface SeriesPoint {
  id: number;
  measuredAt: string;
  commit: string | null;
  branch: string | null;
  hostId: string;
  value: number;
}

/** A figure a scenario's history has, with how it is judged. */
export interface HistoryMetric {
  metric: string;
  unit: SummaryFigure['unit'];
  direction: SummaryFigure['direction'];
  gate: SummaryFigure['gate'];
}

/**
 * The history of results, behind one small interface: an embedded SQLite file by default, or a
 * PostgreSQL schema for a team's shared history. Series come in the order they were measured.
 */
export interface HistoryStore {
  readonly kind: 'sqlite' | 'postgres';
  add(entry: HistoryEntry): Promise<number>;
  scenarios(): Promise<string[]>;
  metrics(scenario: string): Promise<HistoryMetric[]>;
  hosts(scenario: string): Promise<Array<{ host: HostFingerprint; results: number }>>;
  series(scenario: string, metric: string, hostId: string): Promise<SeriesPoint[]>;
  close(): Promise<void>;
}

/** A result's columns, in the order both drivers insert them. */
export function resultColumns(
  entry: HistoryEntry,
): [string, string | null, string | null, string, string, string, string, string] {
  return [
    entry.measuredAt,
    entry.commit,
    entry.branch,
    entry.host.id,
    JSON.stringify(entry.host),
    entry.scenario,
    entry.source,
    entry.engine,
  ];
}

/** The figures a result keeps: a figure that is not a number (no /metrics, say) has no point in a series. */
export function recordedFigures(entry: HistoryEntry): Array<[string, HistoryEntry['figures'][string]]> {
  return Object.entries(entry.figures).filter(([, f]) => Number.isFinite(f.value));
}
