// Cost of extracting one ~20 KB page: `npx tsx pipeline/scraper/page-extractor.bench.ts`.
// Prints the median µs per page of several rounds, for the scraper's early stop and for a full parse.
import { PageExtractor } from './page-extractor.js';

const ROUNDS = 25;
const PAGES_PER_ROUND = 400;
const EXCERPT_CHARS = 500;

/** A page shaped like a small business site: a heavy head, a nav, then prose. */
function realisticPage(): Buffer {
  const words = 'our team builds reliable widgets for shops and workshops across the region every day'.split(
    ' ',
  );
  let seed = 7;
  const word = (): string => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return words[seed % words.length]!;
  };
  const sentence = (n: number): string => Array.from({ length: n }, word).join(' ');
  const head =
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<title>Acme Widgets &amp; Co. | Handmade widgets since 1999</title>' +
    '<meta name="description" content="Acme builds reliable widgets for shops and workshops.">' +
    '<meta property="og:title" content="Acme Widgets"><meta property="og:description" content="Widgets.">' +
    '<link rel="stylesheet" href="/assets/site.css"><link rel="icon" href="/favicon.ico">' +
    `<style>${'.card{margin:0 auto;padding:1rem 2rem;border:1px solid #ddd}'.repeat(40)}</style>` +
    `<script>window.dataLayer=window.dataLayer||[];${'dataLayer.push({event:"view",page:"/"});'.repeat(60)}</script>` +
    '</head>';
  const nav = `<header><nav><ul>${Array.from({ length: 12 }, (_, i) => `<li><a href="/p${i}">${sentence(2)}</a></li>`).join('')}</ul></nav></header>`;
  const sections = Array.from(
    { length: 40 },
    (_, i) =>
      `<section class="card" id="s${i}"><h2>${sentence(4)}</h2><p>${sentence(30)} <a href="/x${i}">${sentence(2)}</a>.</p></section>`,
  ).join('');
  const footer = `<footer><p>&copy; 2024 Acme Widgets &amp; Co.</p><script>${'track();'.repeat(50)}</script></footer>`;
  return Buffer.from(
    `${head}<body>${nav}<main><h1>${sentence(5)}</h1>${sections}</main>${footer}</body></html>`,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Median over rounds of the mean µs per page within a round, in CPU time rather than wall time:
 * on a shared machine the process is often descheduled, which wall time would count.
 */
function measure(label: string, extractOne: () => void): void {
  for (let i = 0; i < PAGES_PER_ROUND * 2; i++) extractOne(); // warm up the JIT
  const perPageUs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.cpuUsage();
    for (let i = 0; i < PAGES_PER_ROUND; i++) extractOne();
    const used = process.cpuUsage(started);
    perPageUs.push((used.user + used.system) / PAGES_PER_ROUND);
  }
  console.log(`${label.padEnd(44)} ${median(perPageUs).toFixed(1).padStart(7)} µs/page`);
}

const page = realisticPage();
const probe = new PageExtractor(EXCERPT_CHARS);
probe.reset();
probe.write(page);
console.log(
  `page: ${page.length} bytes; early stop after ${probe.consumedBytes} bytes; ` +
    `title "${probe.fields().title}", excerpt ${probe.fields().excerpt.length} chars`,
);

const reused = new PageExtractor(EXCERPT_CHARS);
measure('early stop (reused extractor, as the scraper)', () => {
  reused.reset();
  reused.write(page);
});
measure('early stop (new extractor per page)', () => {
  const extractor = new PageExtractor(EXCERPT_CHARS);
  extractor.reset();
  extractor.write(page);
});
const full = new PageExtractor(Number.MAX_SAFE_INTEGER);
measure('full parse (excerpt never full)', () => {
  full.reset();
  full.write(page);
  full.end();
});
