import { type Dashboard, type DashboardEvent, startDashboard } from '../dashboard/dashboard-server.js';
import type { CliIo } from './cli-io.js';
import { numberFlag } from './flag-value.js';

/** The parseArgs options of a command that can serve a live page. */
export const dashboardFlags = {
  dashboard: { type: 'string' },
  'dashboard-linger': { type: 'string', default: '0' },
  'allow-remote': { type: 'boolean', default: false },
} as const;

/** The help lines of those flags; `shows` says what the command's page draws. */
export function dashboardHelp(shows: string): string {
  return `  --dashboard[=PORT]      serve a live page on 127.0.0.1 (a free port, or PORT) and print its
                          address; it shows ${shows}
  --dashboard-linger S    keep serving the page S seconds after the end
  --allow-remote          serve the page on every interface, not only loopback
`;
}

/** A bare --dashboard asks for a free port: parseArgs needs a value, so it becomes --dashboard=0. */
export function dashboardArgv(argv: string[]): string[] {
  return argv.map((a) => (a === '--dashboard' ? '--dashboard=0' : a));
}

/** A command's live page: publish events to it, then `finish` with the last one. */
export interface CommandDashboard {
  publish(event: DashboardEvent): void;
  /** Publishes the end (and the report, if any), lingers as asked, and stops serving. */
  finish(end: DashboardEvent, reportHtml?: string): Promise<void>;
  /** Stops serving at once (the command failed). */
  close(): Promise<void>;
}

/**
 * Starts the page when --dashboard was given (flags checked here, at the edge) and prints its
 * address on stderr, so stdout stays the command's output; undefined otherwise.
 */
export async function openCommandDashboard(
  values: { dashboard?: string; 'dashboard-linger'?: string; 'allow-remote'?: boolean },
  io: CliIo,
  meta: { title: string; subtitle: string },
): Promise<CommandDashboard | undefined> {
  if (values.dashboard === undefined) return undefined;
  const lingerS = numberFlag('dashboard-linger', values['dashboard-linger'], { min: 0, max: 3600 }) ?? 0;
  const dashboard: Dashboard = await startDashboard({
    port: numberFlag('dashboard', values.dashboard, { min: 0, max: 65_535, integer: true }),
    allowRemote: values['allow-remote'] === true,
    meta: { ...meta, thresholds: {} },
  });
  io.stderr(`dashboard: ${dashboard.url}\n`);
  return {
    publish: (event) => dashboard.publish(event),
    async finish(end, reportHtml) {
      if (reportHtml !== undefined) dashboard.setReport(reportHtml);
      dashboard.publish(end);
      if (lingerS > 0) {
        io.stderr(`dashboard: ${dashboard.url} (finished; serving it ${lingerS} s more)\n`);
        await new Promise((resolve) => setTimeout(resolve, lingerS * 1000));
      }
      await dashboard.close();
    },
    close: () => dashboard.close(),
  };
}
