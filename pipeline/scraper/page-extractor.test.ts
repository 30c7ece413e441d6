import { describe, expect, it } from 'vitest';
import { charsetOf, extractPage, PageExtractor } from './page-extractor.js';

describe('extractPage', () => {
  it('reads the title, meta description and visible text', () => {
    const fields = extractPage(
      '<!DOCTYPE html><html><head><title>Acme</title><meta name="description" content="We make things.">' +
        '</head><body><h1>Hello</h1><p>World of <em>things</em>.</p></body></html>',
      500,
    );
    expect(fields).toEqual({
      title: 'Acme',
      description: 'We make things.',
      excerpt: 'Hello World of things.',
    });
  });

  it('falls back to og:description when there is no meta description', () => {
    const fields = extractPage(
      '<head><meta property="og:description" content="Open graph."></head><p>x</p>',
      500,
    );
    expect(fields.description).toBe('Open graph.');
  });

  it('prefers the meta description to og:description whatever their order', () => {
    const fields = extractPage(
      '<head><meta property="og:description" content="og"><META NAME="Description" CONTENT="plain"></head>',
      500,
    );
    expect(fields.description).toBe('plain');
  });

  it('leaves out scripts, styles, noscript, templates, svg and head text', () => {
    const fields = extractPage(
      '<head><title>T</title><style>h1{}</style><script>var a = "<p>no</p>";</script></head><body>' +
        '<noscript>Enable JS</noscript><template><p>tmpl</p></template>' +
        '<svg><title>icon</title><text>svg text</text></svg><p>Shown</p><script>x()</script><p>too</p></body>',
      500,
    );
    expect(fields).toEqual({ title: 'T', description: '', excerpt: 'Shown too' });
  });

  it('reads the text of a page whose head is never closed', () => {
    const fields = extractPage(
      '<html><head><title>Sloppy</title><link rel="icon" href="/i"><div>Body text</div>',
      500,
    );
    expect(fields).toEqual({ title: 'Sloppy', description: '', excerpt: 'Body text' });
  });

  it('takes the page title, not an svg title before it', () => {
    const fields = extractPage('<body><svg><title>logo</title></svg><title>Real</title><p>x</p></body>', 500);
    expect(fields.title).toBe('Real');
  });

  it('collapses whitespace and separates block elements', () => {
    const fields = extractPage(
      '<title>\n  Spread\n  out  </title><div>one</div><div>two</div>\n\n<p>  three\t four </p>li<b>ne</b><br>end',
      500,
    );
    expect(fields.title).toBe('Spread out');
    expect(fields.excerpt).toBe('one two three four line end');
  });

  it('decodes entities in the title, the description and the text', () => {
    const fields = extractPage(
      '<title>Tom &amp; Jerry&#39;s</title><meta name="description" content="caf&eacute; &lt;3">' +
        '<p>5 &gt; 3&nbsp;&hellip; &#x1F600;</p>',
      500,
    );
    expect(fields).toEqual({ title: "Tom & Jerry's", description: 'café <3', excerpt: '5 > 3 … 😀' });
  });

  it('cuts the excerpt at excerptChars without splitting a surrogate pair', () => {
    expect(extractPage(`<p>${'word '.repeat(100)}</p>`, 12).excerpt).toBe('word word wo');
    expect(extractPage('<p>ab😀cd</p>', 3).excerpt).toBe('ab');
  });

  it('decodes the charset of the content-type, UTF-8 by default and latin1 for unknown names', () => {
    const latin1 = Buffer.from('<title>Caf\xe9</title>', 'latin1');
    expect(extractPage(latin1, 500, 'iso-8859-1').title).toBe('Café');
    expect(extractPage(latin1, 500, 'x-no-such-charset').title).toBe('Café');
    expect(extractPage(Buffer.from('<title>Café</title>', 'utf8'), 500).title).toBe('Café');
  });
});

describe('PageExtractor', () => {
  it('stops inside a chunk once the excerpt is full', () => {
    const html = Buffer.from(`<title>Long</title><p>${'lorem ipsum '.repeat(10_000)}</p>`);
    const extractor = new PageExtractor(100);
    extractor.reset();
    expect(extractor.write(html)).toBe(true);
    expect(extractor.done).toBe(true);
    expect(extractor.consumedBytes).toBeLessThan(10_000);
    expect(extractor.fields().excerpt).toHaveLength(100);
  });

  it('decodes multi-byte characters that follow ASCII or straddle a slice boundary', () => {
    // The first 4 KB slice is pure ASCII; the "é" starts on the last byte of the second one.
    const html = `<p>${'a'.repeat(4_093)} ${'b'.repeat(4_094)}é ü</p>`;
    expect(Buffer.from(html).indexOf(0xc3)).toBe(8_191);
    const { excerpt } = extractPage(html, 20_000);
    expect(excerpt.endsWith('bbé ü')).toBe(true);
    expect(excerpt).not.toContain('\ufffd');
  });

  it('decodes a character split across two chunks', () => {
    const bytes = Buffer.from('<title>né</title><p>end</p>', 'utf8');
    const split = bytes.indexOf(0xc3) + 1;
    const extractor = new PageExtractor(500);
    extractor.reset('utf-8');
    extractor.write(bytes.subarray(0, split));
    extractor.write(bytes.subarray(split));
    extractor.end();
    expect(extractor.fields()).toMatchObject({ title: 'né', excerpt: 'end' });
  });

  it('keeps text that runs to the end of a body without closing tags', () => {
    const extractor = new PageExtractor(500);
    extractor.reset();
    extractor.write(Buffer.from('<title>Open</title><p>no closing'));
    extractor.end();
    expect(extractor.fields()).toEqual({ title: 'Open', description: '', excerpt: 'no closing' });
  });

  it('forgets the previous page on reset', () => {
    const extractor = new PageExtractor(20);
    extractor.reset();
    extractor.write(
      Buffer.from(`<title>First</title><meta name="description" content="d"><p>${'a '.repeat(50)}`),
    );
    extractor.reset();
    extractor.write(Buffer.from('<title>Second</title><p>b</p>'));
    extractor.end();
    expect(extractor.fields()).toEqual({ title: 'Second', description: '', excerpt: 'b' });
  });
});

describe('charsetOf', () => {
  it('reads the charset parameter of a content-type', () => {
    expect(charsetOf('text/html; charset=ISO-8859-1')).toBe('iso-8859-1');
    expect(charsetOf('text/html;charset="utf-8"')).toBe('utf-8');
    expect(charsetOf('text/html')).toBeUndefined();
  });
});
