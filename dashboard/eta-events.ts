import type { CapacityReport } from '../analyzer/capacity-report.js';
import type { DashboardEvent } from './dashboard-server.js';

/**
 * One reading of `capacity --prometheus --eta --follow`: the time left with its 90 % interval and
 * the rows left, as the report's `eta` has them (null bounds: unbounded), at the window's end.
 */
export type EtaEvent = { type: 'eta'; atS: number } & NonNullable<CapacityReport['eta']>;

/** The event of one reading (infinite bounds become null: JSON has no Infinity). */
export function etaEvent(
  atS: number,
  eta: Omit<NonNullable<CapacityReport['eta']>, 'lowS' | 'highS'> & {
    lowS: number | null;
    highS: number | null;
  },
): DashboardEvent {
  const finite = (v: number | null) => (v !== null && Number.isFinite(v) ? v : null);
  return { ...eta, type: 'eta', atS, lowS: finite(eta.lowS), highS: finite(eta.highS) };
}
