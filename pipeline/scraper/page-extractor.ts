import { isAscii } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { type Handler, Parser } from 'htmlparser2';

/** What a page says about itself. */
export interface PageFields {
  title: string;
  /** `<meta name="description">`, else `og:description`. */
  description: string;
  /** The first visible-text characters, whitespace collapsed. */
  excerpt: string;
}

/** The excerpt and these caps keep a page small: it travels in the AI job's payload. */
const MAX_TITLE_CHARS = 300;
const MAX_DESCRIPTION_CHARS = 1_000;

/**
 * Bytes decoded and parsed at a time. Smaller slices let the early stop skip more of a chunk
 * (undici hands over up to 64 KiB at once, often the whole page); each slice costs one decoder call.
 */
const SLICE_BYTES = 4_096;

/** Elements whose text is not shown (or not part of the page's prose). */
const HIDDEN_ELEMENTS = new Set([
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'math',
  'iframe',
  'object',
]);

/** Elements that may sit in <head>; any other element there means the body has begun. */
const HEAD_ONLY_ELEMENTS = new Set([
  'html',
  'base',
  'link',
  'meta',
  'title',
  'style',
  'script',
  'noscript',
  'template',
]);

/** Elements that separate words: `<p>a</p><p>b</p>` reads "a b", not "ab". */
const BREAKING_ELEMENTS = new Set(
  (
    'address article aside blockquote br caption dd details dialog div dl dt fieldset figcaption figure ' +
    'footer form h1 h2 h3 h4 h5 h6 header hr img input li main nav ol option p pre section summary table ' +
    'tbody td tfoot th thead tr ul'
  ).split(' '),
);

const WHITESPACE = /\s+/g;

const STREAM = { stream: true } as const;

/** Encodings whose bytes below 0x80 are ASCII characters, so ASCII input needs no decoder. */
const ASCII_COMPATIBLE = new Set(['utf-8', 'windows-1252', 'iso-8859-2', 'iso-8859-15']);

/** Extra characters taken per piece of a long text node, so short runs of spaces rarely need a second piece. */
const TEXT_PIECE_SLACK = 64;

/**
 * Streaming extraction of title, description and excerpt from an HTML body. Feed raw body bytes
 * with `write` until it returns true (everything wanted is known: the rest of the page need not
 * be read) or the body ends (`end`). Reusable: `reset` prepares it for the next page, so a busy
 * scraper keeps a few instances instead of building a parser per page.
 */
export class PageExtractor {
  readonly #parser: Parser;
  readonly #excerptChars: number;
  readonly #utf8 = new TextDecoder('utf-8');
  #decoder: TextDecoder = this.#utf8;
  /** True while every byte so far was ASCII, in an encoding where ASCII bytes mean ASCII. */
  #asciiCompatible = true;

  #done = false;
  #ended = false;
  #hiddenDepth = 0;
  #inHead = false;
  #inTitle = false;
  #titleSeen = false;
  #title = '';
  #description = '';
  #ogDescription = '';
  #excerpt = '';
  #pendingSpace = false;
  #consumedBytes = 0;

  constructor(excerptChars: number) {
    this.#excerptChars = excerptChars;
    const handler: Partial<Handler> = {
      onopentag: (name, attribs) => this.#onOpenTag(name, attribs),
      onclosetag: (name) => this.#onCloseTag(name),
      ontext: (text) => this.#onText(text),
    };
    this.#parser = new Parser(handler, {
      decodeEntities: true,
      lowerCaseTags: true,
      lowerCaseAttributeNames: true,
    });
  }

  /** True once title, description and a full excerpt are known. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Starts a new page. `charset` is the content-type's charset parameter: UTF-8 when absent,
   * windows-1252 (what browsers use for "latin1") when it names an encoding this runtime lacks.
   */
  reset(charset?: string): void {
    this.#parser.reset();
    // A page abandoned mid-character leaves bytes in the streaming decoder: a final call drops them.
    this.#decoder.decode();
    this.#decoder = decoderFor(charset, this.#utf8);
    this.#asciiCompatible = ASCII_COMPATIBLE.has(this.#decoder.encoding);
    this.#done = false;
    this.#ended = false;
    this.#hiddenDepth = 0;
    this.#inHead = false;
    this.#inTitle = false;
    this.#titleSeen = false;
    this.#title = '';
    this.#description = '';
    this.#ogDescription = '';
    this.#excerpt = '';
    this.#pendingSpace = false;
  }

  /**
   * Parses `bytes` and returns true once extraction is complete. Stops inside the chunk when it
   * completes: `consumedBytes` then tells how much of it was read.
   */
  write(bytes: Buffer): boolean {
    this.#consumedBytes = 0;
    for (let start = 0; start < bytes.length && !this.#done; start += SLICE_BYTES) {
      const end = Math.min(start + SLICE_BYTES, bytes.length);
      const slice = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
      this.#parser.write(this.#decode(slice));
      this.#consumedBytes = end;
    }
    return this.#done;
  }

  #decode(slice: Buffer): string {
    // Most pages are ASCII up to their excerpt: a native ASCII check plus a latin1 copy beats the
    // streaming decoder. Once a slice is not ASCII the decoder may hold a partial character, so it
    // decodes the rest of the page.
    if (this.#asciiCompatible) {
      if (isAscii(slice)) return slice.toString('latin1');
      this.#asciiCompatible = false;
    }
    return this.#decoder.decode(slice, STREAM);
  }

  /** Bytes of the last `write` that were parsed. */
  get consumedBytes(): number {
    return this.#consumedBytes;
  }

  /** The body ended: flushes text still held by the decoder and the parser. */
  end(): void {
    if (this.#done || this.#ended) return;
    this.#ended = true;
    const rest = this.#decoder.decode();
    if (rest !== '') this.#parser.write(rest);
    this.#parser.end();
  }

  /** What was found so far (all of it once `done`). */
  fields(): PageFields {
    let title = this.#title;
    if (this.#inTitle) title = collapse(title); // an unclosed <title> at the end of a cut-off body
    return {
      title: truncate(title, MAX_TITLE_CHARS),
      description: truncate(collapse(this.#description || this.#ogDescription), MAX_DESCRIPTION_CHARS),
      excerpt: this.#excerpt,
    };
  }

  #onOpenTag(name: string, attribs: Record<string, string>): void {
    if (HIDDEN_ELEMENTS.has(name)) {
      this.#hiddenDepth++;
    } else if (this.#hiddenDepth > 0) {
      // Inside <svg> a <title> is a tooltip, not the page's title.
    } else if (name === 'head') {
      this.#inHead = true;
    } else if (name === 'title') {
      if (!this.#titleSeen) this.#inTitle = true;
    } else if (name === 'meta') {
      this.#onMeta(attribs);
    } else if (name === 'body') {
      this.#inHead = false;
    } else {
      // Content in a head that was never closed starts the body, as it does in a browser.
      if (this.#inHead && !HEAD_ONLY_ELEMENTS.has(name)) this.#inHead = false;
      if (BREAKING_ELEMENTS.has(name)) this.#pendingSpace = true;
    }
  }

  #onCloseTag(name: string): void {
    if (HIDDEN_ELEMENTS.has(name)) {
      if (this.#hiddenDepth > 0) this.#hiddenDepth--;
    } else if (name === 'head') {
      this.#inHead = false;
    } else if (name === 'title' && this.#inTitle) {
      this.#inTitle = false;
      this.#titleSeen = true;
      this.#title = collapse(this.#title);
    } else if (BREAKING_ELEMENTS.has(name)) {
      this.#pendingSpace = true;
    }
  }

  #onMeta(attribs: Record<string, string>): void {
    const content = attribs.content;
    if (content === undefined) return;
    const name = attribs.name?.toLowerCase();
    if (name === 'description') {
      if (this.#description === '') this.#description = content;
    } else if (
      this.#ogDescription === '' &&
      (attribs.property === 'og:description' || name === 'og:description')
    ) {
      this.#ogDescription = content;
    }
  }

  #onText(text: string): void {
    if (this.#inTitle) {
      if (this.#title.length < MAX_TITLE_CHARS * 2) this.#title += text;
      return;
    }
    if (this.#hiddenDepth > 0 || this.#inHead || this.#done) return;
    // A text node can be a whole 4 KB slice of prose: collapse only about as much as the excerpt
    // still needs (collapsing never lengthens text), piece by piece.
    for (let from = 0; from < text.length && !this.#done; ) {
      const to = Math.min(text.length, from + this.#excerptChars - this.#excerpt.length + TEXT_PIECE_SLACK);
      this.#appendVisible(from === 0 && to === text.length ? text : text.slice(from, to));
      from = to;
    }
  }

  #appendVisible(text: string): void {
    const collapsed = text.replace(WHITESPACE, ' ');
    let start = 0;
    let end = collapsed.length;
    if (collapsed.charCodeAt(0) === 32) {
      start = 1;
      this.#pendingSpace = true;
    }
    const trailingSpace = end > start && collapsed.charCodeAt(end - 1) === 32;
    if (trailingSpace) end--;
    if (end <= start) return;
    if (this.#pendingSpace && this.#excerpt.length > 0) this.#excerpt += ' ';
    this.#excerpt += start === 0 && end === collapsed.length ? collapsed : collapsed.slice(start, end);
    this.#pendingSpace = trailingSpace;
    if (this.#excerpt.length >= this.#excerptChars) {
      this.#excerpt = truncate(this.#excerpt, this.#excerptChars);
      this.#done = true;
      // The page's visible text starts after its head, so title and description are settled by now.
      this.#parser.pause();
    }
  }
}

/** Extracts the fields of a whole page at once (for tests and one-off use; the scraper streams). */
export function extractPage(html: string | Uint8Array, excerptChars: number, charset?: string): PageFields {
  const extractor = new PageExtractor(excerptChars);
  extractor.reset(charset);
  const bytes =
    typeof html === 'string'
      ? Buffer.from(html, 'utf8')
      : Buffer.from(html.buffer, html.byteOffset, html.length);
  if (!extractor.write(bytes)) extractor.end();
  return extractor.fields();
}

/** The charset parameter of a content-type value, lower case, or undefined. */
export function charsetOf(contentType: string): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType);
  return match?.[1]?.toLowerCase();
}

function decoderFor(charset: string | undefined, utf8: TextDecoder): TextDecoder {
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') return utf8;
  try {
    const decoder = new TextDecoder(charset);
    return decoder.encoding === 'utf-8' ? utf8 : decoder;
  } catch {
    return new TextDecoder('latin1');
  }
}

function collapse(text: string): string {
  return text.replace(WHITESPACE, ' ').trim();
}

/** Cuts to at most `maxChars` UTF-16 units without splitting a surrogate pair. */
function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const last = text.charCodeAt(maxChars - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? maxChars - 1 : maxChars).trimEnd();
}
