// CPU per scrape against a local site: `npx tsx pipeline/scraper/scraper.bench.ts [pages] [inFlight]`.
// The site runs in a child process so the scraper's own CPU is measured apart from the server's.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Scraper } from './scraper.js';

const PAGES = Number(process.argv[2] ?? 20_000);
const IN_FLIGHT = Number(process.argv[3] ?? 200);
const HOSTS = 100;

// Every host gets the same ~20 KB page, written at once, on keep-alive connections.
const SITE_SOURCE = `
const http = require('node:http');
const prose = 'Quality widgets since 1999, shipped from our workshop to your door. '.repeat(260);
const page = Buffer.from('<!DOCTYPE html><html><head><title>Acme</title>' +
  '<meta name="description" content="We make widgets."><style>' + '.c{margin:0}'.repeat(150) + '</style>' +
  '<script>' + 'track();'.repeat(300) + '</script></head><body><main><h1>Acme</h1><p>' + prose + '</p></main></body></html>');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': page.length });
  res.end(page);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.on('message', () => process.send(process.cpuUsage()));
`;

const site = spawn(process.execPath, ['-e', SITE_SOURCE], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
const [portLine] = (await once(site.stdout!, 'data')) as [Buffer];
const port = Number(portLine.toString().trim());
const siteCpu = (): Promise<NodeJS.CpuUsage> => {
  site.send('cpu');
  return once(site, 'message').then(([usage]) => usage as NodeJS.CpuUsage);
};

const scraper = new Scraper({ allowHosts: ['*.sites.test'], resolve: { '*.sites.test': '127.0.0.1' } });
let next = 0;
let failed = 0;
let bytesRead = 0;
async function lane(): Promise<void> {
  while (next < PAGES) {
    const i = next++;
    const outcome = await scraper.scrape(`http://site-${i % HOSTS}.sites.test:${port}/page/${i}`);
    if (outcome.ok) bytesRead += outcome.page.bytesRead;
    else failed++;
  }
}

const siteBefore = await siteCpu();
const cpuBefore = process.cpuUsage();
const startedAt = performance.now();
await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
const elapsedMs = performance.now() - startedAt;
const cpu = process.cpuUsage(cpuBefore);
const siteAfter = await siteCpu();
await scraper.close();
site.kill();

const perPageUs = (usage: { user: number; system: number }): string =>
  ((usage.user + usage.system) / PAGES).toFixed(0);
console.log(
  `${PAGES} pages, ${IN_FLIGHT} in flight, ${HOSTS} hosts: ${((PAGES / elapsedMs) * 1_000).toFixed(0)} pages/s, ` +
    `${failed} failed, mean bytes read ${(bytesRead / Math.max(1, PAGES - failed)).toFixed(0)}`,
);
console.log(
  `CPU per page: scraper ${perPageUs(cpu)} µs (user ${(cpu.user / PAGES).toFixed(0)}), site ` +
    `${perPageUs({ user: siteAfter.user - siteBefore.user, system: siteAfter.system - siteBefore.system })} µs`,
);
