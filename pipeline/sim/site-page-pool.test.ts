import { describe, expect, it } from 'vitest';
import { SitePagePool } from './site-page-pool.js';

describe('SitePagePool', () => {
  it('spans the page-size distribution with its templates', () => {
    const sizes = new SitePagePool(1, 20_000, 0.3).templateSizesBytes().sort((x, y) => x - y);
    expect(sizes.length).toBe(64);
    const median = (sizes[31]! + sizes[32]!) / 2;
    expect(median).toBeGreaterThan(19_000);
    expect(median).toBeLessThan(21_500);
    // The outermost of 64 quantiles sit near ±2.4 sigma: about 0.49× and 2.05× the median.
    expect(sizes[0]! / 20_000).toBeGreaterThan(0.4);
    expect(sizes[63]! / 20_000).toBeLessThan(2.3);
  });

  it('renders the same page for the same host and path', () => {
    const pool = new SitePagePool(1, 20_000, 0.3);
    const a = pool.render('site-1.sites.test', '/company/1');
    const b = new SitePagePool(1, 20_000, 0.3).render('site-1.sites.test', '/company/1');
    expect(b.title).toBe(a.title);
    expect(b.sizeBytes).toBe(a.sizeBytes);
    expect(pool.render('site-1.sites.test', '/company/2').title).not.toBe(a.title);
  });

  it('counts the size of a page in bytes, per-URL parts included', () => {
    const page = new SitePagePool(3, 5_000, 0).render('site-9.sites.test', '/');
    const bytes =
      page.statics.reduce((sum, part) => sum + part.length, 0) +
      Buffer.byteLength(page.title + page.description + page.heading + page.lead);
    expect(page.sizeBytes).toBe(bytes);
  });
});
