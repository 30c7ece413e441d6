import { normalQuantile } from './normal-quantile.js';
import { hashString, SeededRandom } from './seeded-random.js';

/** How many page templates span the size distribution; a URL picks one by hash. */
const TEMPLATE_COUNT = 64;

/** A page split around its per-URL parts: `static[0] title static[1] description static[2] h1 static[3] lead static[4]`. */
export interface RenderedPage {
  statics: readonly Buffer[];
  title: string;
  description: string;
  heading: string;
  lead: string;
  /** Bytes of the whole page (statics plus the per-URL parts, which are ASCII). */
  sizeBytes: number;
}

const NAME_FIRST = [
  'Northwind',
  'Blue Harbor',
  'Silverline',
  'Granite',
  'Brightpath',
  'Copperleaf',
  'Evergreen',
  'Lumen',
  'Redwood',
  'Summit',
  'Tidewater',
  'Ironbridge',
  'Oakridge',
  'Clearwater',
  'Maple',
  'Fieldstone',
  'Harborview',
  'Keystone',
  'Bluebird',
  'Westfield',
  'Pinecrest',
  'Stonegate',
  'Sunrise',
  'Riverbend',
] as const;
const NAME_SECOND = [
  'Analytics',
  'Logistics',
  'Dental',
  'Bakery',
  'Consulting',
  'Software',
  'Roofing',
  'Legal',
  'Labs',
  'Robotics',
  'Outfitters',
  'Health',
  'Energy',
  'Design',
  'Foods',
  'Marine',
  'Capital',
  'Studios',
] as const;
const NAME_SUFFIX = ['', '', '', ' Inc', ' Ltd', ' Group', ' & Co', ' Partners'] as const;
const WHAT = [
  'helps small businesses grow',
  'builds reliable tools for teams',
  'serves customers across the region',
  'delivers on time, every time',
  'makes complex work simple',
  'has been family owned since 1987',
  'brings craft and care to every project',
  'turns data into decisions',
] as const;
const FOR_WHOM = [
  'for retailers',
  'for clinics',
  'for manufacturers',
  'for local families',
  'for growing startups',
  'for city councils',
  'for restaurants',
  'for logistics teams',
] as const;
const WORDS = [
  'quality',
  'service',
  'customers',
  'team',
  'experience',
  'local',
  'trusted',
  'solutions',
  'projects',
  'support',
  'results',
  'partners',
  'community',
  'years',
  'expert',
  'reliable',
  'modern',
  'simple',
  'growth',
  'value',
  'design',
  'delivery',
  'planning',
  'care',
  'every',
  'our',
  'we',
  'with',
  'and',
  'for',
  'the',
  'your',
  'to',
  'of',
  'in',
  'on',
  'is',
  'are',
  'help',
  'build',
  'offer',
  'provide',
  'work',
] as const;
const SECTIONS = [
  'About us',
  'Our services',
  'Why choose us',
  'Testimonials',
  'Our team',
  'Careers',
  'News',
  'Contact',
] as const;

/**
 * A pool of pre-built HTML pages whose sizes follow a lognormal distribution. Building 20 KB of
 * HTML per request would cost far more than serving it, so each URL reuses a template and only
 * its title, description, heading and lead paragraph are generated (deterministically from the
 * host, path and seed).
 */
export class SitePagePool {
  private readonly templates: Buffer[][];

  constructor(
    private readonly seed: number,
    medianBytes: number,
    sigma: number,
  ) {
    this.templates = [];
    for (let i = 0; i < TEMPLATE_COUNT; i++) {
      // Quantiles rather than random draws: the pool covers the distribution evenly.
      const z = normalQuantile((i + 0.5) / TEMPLATE_COUNT);
      const targetBytes = Math.max(600, Math.round(medianBytes * Math.exp(sigma * z)));
      this.templates.push(buildTemplate(new SeededRandom(hashString(`template-${i}`, seed)), targetBytes));
    }
  }

  /** Page sizes of the templates, for tests and reports. */
  templateSizesBytes(): number[] {
    return this.templates.map((parts) => parts.reduce((sum, part) => sum + part.length, 0));
  }

  /** The page for one host and path; the same arguments always give the same page. */
  render(host: string, path: string): RenderedPage {
    const hash = hashString(path, hashString(host, this.seed));
    const statics = this.templates[hash % TEMPLATE_COUNT]!;
    const random = new SeededRandom(hash);
    const name = `${random.pick(NAME_FIRST)} ${random.pick(NAME_SECOND)}${random.pick(NAME_SUFFIX)}`;
    const what = random.pick(WHAT);
    const forWhom = random.pick(FOR_WHOM);
    const title = `${name} | ${capitalise(what)} ${forWhom}`;
    const description = `${name} ${what} ${forWhom}. ${capitalise(sentence(random, 12))}`;
    const lead = `Welcome to ${name}. We ${sentence(random, 14)} ${forWhom}.`;
    let sizeBytes = title.length + description.length + name.length + lead.length;
    for (const part of statics) sizeBytes += part.length;
    return { statics, title, description, heading: name, lead, sizeBytes };
  }
}

function buildTemplate(random: SeededRandom, targetBytes: number): Buffer[] {
  const styleBytes = Math.round(targetBytes * 0.12);
  const scriptBytes = Math.round(targetBytes * 0.08);
  const head0 =
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>';
  const head1 = '</title>\n<meta name="description" content="';
  const head2 =
    '">\n<link rel="stylesheet" href="/assets/site.css">\n<link rel="icon" href="/favicon.ico">\n' +
    `<style>\n${css(random, styleBytes)}</style>\n<script>\n${script(random, scriptBytes)}</script>\n` +
    '</head>\n<body>\n<header class="site-header">\n<nav>\n<ul>\n' +
    SECTIONS.map((s) => `<li><a href="/${s.toLowerCase().replace(/ /g, '-')}">${s}</a></li>\n`).join('') +
    '</ul>\n</nav>\n</header>\n<main>\n<h1>';
  const body0 = '</h1>\n<p class="lead">';
  const footer =
    '</main>\n<footer>\n<p>Copyright 2024. All rights reserved.</p>\n<p><a href="/privacy">Privacy</a> | ' +
    '<a href="/terms">Terms</a></p>\n</footer>\n' +
    '<script>window.dataLayer=window.dataLayer||[];dataLayer.push({event:"page_view"});</script>\n' +
    '</body>\n</html>\n';
  const fixedBytes = head0.length + head1.length + head2.length + body0.length + footer.length + 260;
  let main = '</p>\n';
  while (fixedBytes + main.length < targetBytes) {
    main += `<section>\n<h2>${random.pick(SECTIONS)}</h2>\n`;
    const paragraphs = 1 + random.int(3);
    for (let p = 0; p < paragraphs; p++)
      main += `<p>${capitalise(sentence(random, 20 + random.int(40)))}</p>\n`;
    main += '</section>\n';
  }
  return [head0, head1, head2, body0, main + footer].map((part) => Buffer.from(part, 'latin1'));
}

function css(random: SeededRandom, bytes: number): string {
  const properties = ['margin:0 auto', 'padding:8px 16px', 'color:#333', 'display:flex', 'font-size:1rem'];
  let out = '';
  for (let i = 0; out.length < bytes; i++) {
    out += `.c${i}-${random.int(1000)}{${random.pick(properties)};${random.pick(properties)}}\n`;
  }
  return out;
}

function script(random: SeededRandom, bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) {
    out += `function f${i}(a,b){return a*${random.int(97)}+b-${random.int(13)};}\n`;
  }
  return out;
}

function sentence(random: SeededRandom, words: number): string {
  let out = random.pick(WORDS);
  for (let i = 1; i < words; i++) out += ` ${random.pick(WORDS)}`;
  return out;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
