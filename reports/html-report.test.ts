import { describe, expect, it } from 'vitest';
import { type ChartSpec, type HtmlReportDocument, renderHtmlReport } from './html-report.js';

const HOSTILE = `</script><script>alert("x")</script><img src=x onerror='alert(1)'>&amp;`;

interface ChartJsConfig {
  type: string;
  data: { labels?: string[]; datasets: Array<Record<string, unknown>> };
  options: { animation: unknown; scales: Record<string, { type: string; title: { text: string } }> };
}

/** The chart.js configurations a page carries, read back from its JSON block. */
function chartsOf(
  html: string,
): Array<{ canvasId: string; config: ChartJsConfig; percentileAxes: string[] }> {
  const m = /<script type="application\/json" id="headroom-charts">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error('no chart block');
  return JSON.parse(m[1]!);
}

/** The page without the inlined library's licence banners (which name the projects' home pages). */
function withoutLicenceBanners(html: string): string {
  return html.replace(/\/\*![\s\S]*?\*\//g, '');
}

const FITTED = [
  { x: 1, y: 101 },
  { x: 2, y: 178 },
  { x: 4, y: 262 },
];

const usl: ChartSpec = {
  type: 'scatter',
  title: 'Throughput against workers',
  x: { title: 'workers', unit: 'processes' },
  y: { title: 'throughput', unit: 'rows/s' },
  series: [
    {
      label: 'measured',
      points: [
        { x: 1, y: 100 },
        { x: 2, y: 180 },
        { x: 4, y: 260 },
      ],
    },
    { label: 'USL fit', draw: 'line', points: FITTED },
  ],
};

const stageTimes: ChartSpec = {
  type: 'bar',
  title: 'Time for 500,000 rows per stage',
  x: { title: 'stage', categories: ['ingest', 'scrape', 'ai'] },
  y: { title: 'time', unit: 'h' },
  series: [{ label: 'this host', values: [0.01, 1.2, 2.5] }],
};

function doc(charts: ChartSpec[] = []): HtmlReportDocument {
  return {
    title: 'Capacity',
    subtitle: 'a host',
    sections: [{ heading: 'Stages', paragraphs: ['text'], charts }],
  };
}

describe('renderHtmlReport', () => {
  it('escapes every text it is given: title, subtitle, headings, paragraphs, cells, chart titles', () => {
    const html = renderHtmlReport({
      title: HOSTILE,
      subtitle: HOSTILE,
      sections: [
        {
          heading: HOSTILE,
          paragraphs: [HOSTILE],
          tables: [
            { caption: HOSTILE, columns: [HOSTILE], rows: [[HOSTILE], [{ text: HOSTILE, tone: 'fail' }]] },
          ],
          charts: [{ ...usl, title: HOSTILE }],
        },
      ],
    });
    const body = html.slice(html.indexOf('<body>'), html.indexOf('<script type="application/json"'));
    expect(body).not.toContain('<img');
    expect(body).not.toContain('<script');
    expect(body).not.toContain("onerror='");
    // title, h1, subtitle, h2, paragraph, caption, th, two cells, figcaption, canvas label
    expect(html.split('&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)').length - 1).toBe(11);
    expect(html).toContain('&amp;amp;');
  });

  it('keeps a series label from closing its script element', () => {
    const html = renderHtmlReport(doc([{ ...usl, series: [{ label: HOSTILE, points: [{ x: 1, y: 1 }] }] }]));
    // The JSON block, chart.js and the bootstrap: three script elements, each closed once.
    expect(html.match(/<script[\s>]/g)).toHaveLength(3);
    expect(html.match(/<\/script>/g)).toHaveLength(3);
    expect(chartsOf(html)[0]!.config.data.datasets[0]!.label).toBe(HOSTILE);
  });

  it('references nothing outside the file: no URL, src, href, url() or source map', () => {
    const html = withoutLicenceBanners(renderHtmlReport(doc([usl, stageTimes])));
    // Matches, not the page, are printed on failure: the page is 200 KB.
    expect(html.match(/.{0,40}:\/\/.{0,40}/)).toBeNull();
    expect(html.match(/.{0,40}\b(src|href)\s*=.{0,40}/i)).toBeNull();
    // CSS url(…) and @import; chart.js's toDataURL( is a method, not a reference.
    expect(html.match(/.{0,40}((?<![a-z])url\(|@import|sourceMappingURL).{0,40}/i)).toBeNull();
    expect(html).toContain(`Content-Security-Policy" content="default-src 'none';`);
  });

  it('inlines chart.js, whose licence banners are the only URLs in the page', () => {
    const html = renderHtmlReport(doc([usl]));
    expect(html).toContain('Chart.js v4.');
    expect(html.length).toBeGreaterThan(150_000);
    const urls = html.match(/https?:\/\/\S+/g) ?? [];
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) {
      const at = html.indexOf(url);
      expect(html.lastIndexOf('/*!', at), url).toBeGreaterThan(html.lastIndexOf('*/', at));
    }
  });

  it('refuses a value axis without a unit, naming the chart', () => {
    const noUnit = { ...usl, y: { title: 'throughput', unit: ' ' } };
    expect(() => renderHtmlReport(doc([noUnit]))).toThrow(
      'section "Stages", chart 1 "Throughput against workers" y: the axis "throughput" needs a unit',
    );
  });

  it('refuses an axis without a title', () => {
    expect(() => renderHtmlReport(doc([{ ...usl, x: { title: '', unit: 'processes' } }]))).toThrow(
      'x: the axis needs a title',
    );
    expect(() =>
      renderHtmlReport(doc([{ ...stageTimes, x: { title: '', categories: ['a', 'b', 'c'] } }])),
    ).toThrow('x: the axis needs a title');
  });

  it('refuses a bar series whose values do not match the categories', () => {
    const short = { ...stageTimes, series: [{ label: 'this host', values: [1, 2] }] };
    expect(() => renderHtmlReport(doc([short]))).toThrow('series "this host" has 2 values for 3 categories');
  });

  it('draws measured points and a fitted line on the same axes, with titled axes and no animation', () => {
    const [chart] = chartsOf(renderHtmlReport(doc([usl])));
    const { config } = chart!;
    expect(config.type).toBe('scatter');
    expect(config.options.animation).toBe(false);
    expect(config.data.datasets.map((d) => [d.label, d.showLine])).toEqual([
      ['measured', false],
      ['USL fit', true],
    ]);
    expect(config.data.datasets[1]!.data).toEqual(FITTED);
    expect(config.options.scales.x!.title.text).toBe('workers (processes)');
    expect(config.options.scales.y!.title.text).toBe('throughput (rows/s)');
  });

  it('draws bars over category labels', () => {
    const [chart] = chartsOf(renderHtmlReport(doc([stageTimes])));
    expect(chart!.config.type).toBe('bar');
    expect(chart!.config.data.labels).toEqual(['ingest', 'scrape', 'ai']);
    expect(chart!.config.data.datasets[0]!.data).toEqual([0.01, 1.2, 2.5]);
    expect(chart!.config.options.scales.x!.type).toBe('category');
    expect(chart!.config.options.scales.y!.title.text).toBe('time (h)');
  });

  it('places percentiles at log10(100 / (100 − p)) and log axes on a logarithmic scale', () => {
    const html = renderHtmlReport(
      doc([
        {
          type: 'line',
          title: 'Latency by percentile',
          x: { title: 'percentile', unit: '%', scale: 'percentile' },
          y: { title: 'latency', unit: 'ms', scale: 'log' },
          series: [
            {
              label: 'p',
              points: [
                { x: 0, y: 1 },
                { x: 90, y: 2 },
                { x: 99, y: 3 },
              ],
            },
          ],
        },
      ]),
    );
    const [chart] = chartsOf(html);
    const xs = (chart!.config.data.datasets[0]!.data as Array<{ x: number }>).map((p) => p.x);
    expect(xs[0]).toBe(0);
    expect(xs[1]).toBeCloseTo(1, 12);
    expect(xs[2]).toBeCloseTo(2, 12);
    expect(chart!.percentileAxes).toEqual(['x']);
    expect(chart!.config.options.scales.y!.type).toBe('logarithmic');
  });

  it('right-aligns numeric columns and marks verdict cells', () => {
    const html = renderHtmlReport({
      title: 't',
      subtitle: 's',
      sections: [
        {
          heading: 'h',
          tables: [
            {
              columns: ['name', 'count', 'p95', 'verdict'],
              rows: [['a', 1_234_567, { text: '12.50', numeric: true }, { text: 'FAIL', tone: 'fail' }]],
            },
          ],
        },
      ],
    });
    expect(html).toContain(
      '<tr><th scope="col">name</th><th scope="col" class="num">count</th><th scope="col" class="num">p95</th><th scope="col">verdict</th></tr>',
    );
    expect(html).toContain(
      '<td>a</td><td class="num">1,234,567</td><td class="num">12.50</td><td class="fail">FAIL</td>',
    );
  });
});
