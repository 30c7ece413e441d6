import { chartJs, escapeHtml, scriptText } from '../reports/html-report.js';
import type { DashboardMeta } from './dashboard-server.js';

/**
 * The dashboard's one page: chart.js inlined, nothing loaded from elsewhere (the CSP allows only this
 * origin's event stream). The page keeps what it has drawn in `window.headroomDashboard`, which is
 * also what a test reads back from the browser.
 */
export function dashboardPage(meta: DashboardMeta): string {
  const csp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(meta.title)} — live</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
header{padding:12px 20px;background:#fff;border-bottom:1px solid #dde}
h1{font-size:18px;margin:0}.sub{color:#555;margin:2px 0 0}
#status{font-weight:600}#status.live{color:#1a7f37}#status.lost{color:#b35900}#status.done{color:#0550ae}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:14px;padding:14px 20px}
section{background:#fff;border:1px solid #dde;border-radius:6px;padding:10px 14px;overflow-x:auto}
h2{font-size:14px;margin:0 0 6px}.box{position:relative;height:220px}
table{border-collapse:collapse;width:100%}td,th{padding:3px 6px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.pass{color:#1a7f37}.fail{color:#cf222e}
section.wide{grid-column:1/-1}.bar{background:#eef;border-radius:3px;height:10px;min-width:120px;overflow:hidden}.bar span{display:block;height:100%;background:#0550ae;width:0}
</style>
</head>
<body>
<header><h1>${escapeHtml(meta.title)}</h1><p class="sub">${escapeHtml(meta.subtitle)} · <span id="status">connecting…</span> <span id="report"></span></p></header>
<main>
<section data-kind="second" hidden><h2>Arrivals and requests per second</h2><div class="box"><canvas id="rate"></canvas></div></section>
<section data-kind="second" hidden><h2>Latency of each second (from the intended send time)</h2><div class="box"><canvas id="latency"></canvas></div></section>
<section data-kind="server" hidden><h2>Target CPU and event-loop utilisation (its /metrics)</h2><div class="box"><canvas id="cpu"></canvas></div></section>
<section data-kind="server" hidden><h2>Target memory and queues (its /metrics)</h2><div class="box"><canvas id="memory"></canvas></div></section>
<section data-kind="second" hidden><h2>Steps so far</h2><table id="steps"><thead><tr><th>step</th><th>requests</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr></thead><tbody></tbody></table></section>
<section data-kind="second" hidden><h2>Failures by class, and thresholds</h2><table id="errors"><tbody></tbody></table><table id="thresholds"><tbody></tbody></table></section>
<section data-kind="stages" hidden><h2>Stages: rows handled of their total</h2><table id="stages"><thead><tr><th>stage</th><th>progress</th><th>done</th><th>failed</th><th>of</th><th>rows/s</th></tr></thead><tbody></tbody></table><p id="outcome"></p></section>
<section data-kind="stages" hidden><h2>Rows per second, by stage</h2><div class="box"><canvas id="stageRate"></canvas></div></section>
<section data-kind="level" hidden><h2>Measuring</h2><p id="measuring"></p><div class="bar"><span id="budget"></span></div><table id="levels"><thead><tr><th>stage</th><th>rows in flight (slots)</th><th>mean in flight</th><th>rows/s</th></tr></thead><tbody></tbody></table><p id="forecast"></p></section>
<section data-kind="eta" class="wide" hidden><h2>Time left for the rows queued now</h2><p id="etaNow"></p><div class="box"><canvas id="etaChart"></canvas></div></section>
<section data-kind="gate-round" hidden><h2>Rounds</h2><p id="rounds"></p><div class="bar"><span id="roundBar"></span></div><div class="box"><canvas id="gateRatio"></canvas></div></section>
<section data-kind="gate-round" class="wide" hidden><h2>Gated figures of the scenario under way: latest trial of each side, and the interval so far</h2><table id="gateFigures"><thead><tr><th>figure</th><th>base</th><th>head</th><th>change</th><th>interval</th><th>limit</th><th>verdict</th></tr></thead><tbody></tbody></table></section>
</main>
<script type="application/json" id="meta">${scriptText(JSON.stringify(meta))}</script>
<script>${scriptText(chartJs())}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

const PAGE_SCRIPT = `
(function () {
  var meta = JSON.parse(document.getElementById('meta').textContent);
  var state = { lastId: 0, seconds: [], serverSeconds: [], ended: null, reconnects: 0, kinds: [],
    ticks: [], levels: [], fit: null, gateRounds: [] };
  window.headroomDashboard = state;
  function chart(id, yTitle, labels, xTitle) {
    return new Chart(document.getElementById(id), {
      type: 'line',
      data: { datasets: labels.map(function (l) { return { label: l, data: [], pointRadius: 1, borderWidth: 1.5 }; }) },
      options: { animation: false, parsing: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { type: 'linear', title: { display: true, text: xTitle || 'time (s)' } },
                  y: { beginAtZero: true, title: { display: true, text: yTitle } } } }
    });
  }
  var charts = {
    rate: chart('rate', 'per second', ['sent', 'dropped arrivals', 'finished', 'failed']),
    latency: chart('latency', 'latency (ms)', ['p50', 'p95', 'p99']),
    cpu: chart('cpu', '% of one core / % of the loop', ['CPU %', 'event loop %']),
    memory: chart('memory', 'MB / jobs', ['heap MB', 'RSS MB', 'queue waiting', 'pool waiting']),
    stageRate: chart('stageRate', 'rows per second', ['ingest', 'scrape', 'ai']),
    gateRatio: chart('gateRatio', 'head ÷ base (latest trials)', [], 'rounds done'),
    eta: chart('etaChart', 'seconds left', ['time left (s)', '90 % low', '90 % high', 'rows left'], 'time (s since the first reading)'),
    stages: {}
  };
  // Rows left have an axis of their own, on the right: they are thousands where seconds are tens.
  charts.eta.data.datasets[3].yAxisID = 'y1';
  charts.eta.options.scales.y1 = { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'rows left' } };
  // Rounds are whole numbers.
  charts.gateRatio.options.scales.x.ticks = { stepSize: 1, precision: 0 };
  // Each command sends its own kinds of events; a page shows only the panels of the kinds it got.
  function show(kind) {
    if (state.kinds.indexOf(kind) >= 0) return;
    state.kinds.push(kind);
    document.querySelectorAll('section[data-kind="' + kind + '"]').forEach(function (s) { s.hidden = false; });
  }
  state.charts = charts;
  function add(c, i, x, y) { if (y !== null && y !== undefined) c.data.datasets[i].data.push({ x: x, y: y }); }
  function cell(text, numeric) { var td = document.createElement('td'); td.textContent = text; if (numeric) td.className = 'n'; return td; }
  function fmt(v) { return v === null || v === undefined ? '–' : (Math.round(v * 10) / 10).toLocaleString('en-US'); }
  function rows(id, list) {
    var body = document.querySelector('#' + id + ' tbody'); body.textContent = '';
    list.forEach(function (r) { var tr = document.createElement('tr'); r.forEach(function (td) { tr.appendChild(td); }); body.appendChild(tr); });
  }
  function thresholds(verdicts) {
    var list = [];
    Object.keys(meta.thresholds).forEach(function (m) {
      meta.thresholds[m].forEach(function (e) {
        var v = verdicts && verdicts.find(function (x) { return x.metric === m && x.expression === e; });
        var td = cell(v ? (v.passed ? 'pass' : 'FAIL') + ' (' + v.actual + ')' : 'running');
        if (v) td.className = v.passed ? 'pass' : 'fail';
        list.push([cell(m), cell(e), td]);
      });
    });
    rows('thresholds', list);
  }
  thresholds(null);
  function onSecond(p) {
    var l = p.live, t = l.tSec + 1;
    state.seconds.push(l.tSec);
    add(charts.rate, 0, t, l.sentRps); add(charts.rate, 1, t, l.droppedRps); add(charts.rate, 2, t, p.rateRps);
    add(charts.latency, 0, t, l.p50Ms); add(charts.latency, 1, t, l.p95Ms); add(charts.latency, 2, t, l.p99Ms);
    var failed = 0; Object.keys(l.errorsByClass).forEach(function (k) { failed += l.errorsByClass[k]; });
    add(charts.rate, 3, t, failed - (state.failedSoFar || 0)); state.failedSoFar = failed;
    rows('steps', l.steps.map(function (s) { return [cell(s.name), cell(fmt(s.requests), true), cell(fmt(s.p50Ms), true), cell(fmt(s.p95Ms), true), cell(fmt(s.p99Ms), true)]; }));
    var classes = Object.keys(l.errorsByClass);
    rows('errors', classes.length ? classes.map(function (k) { return [cell(k), cell(fmt(l.errorsByClass[k]), true)]; }) : [[cell('no failures')]]);
    charts.rate.update('none'); charts.latency.update('none');
  }
  function onServer(s) {
    state.serverSeconds.push(s.tSec);
    add(charts.cpu, 0, s.tSec, s.cpuPercent);
    add(charts.cpu, 1, s.tSec, s.eventLoopUtilization === null ? null : s.eventLoopUtilization * 100);
    add(charts.memory, 0, s.tSec, s.heapUsedBytes === null ? null : s.heapUsedBytes / 1048576);
    add(charts.memory, 1, s.tSec, s.rssBytes === null ? null : s.rssBytes / 1048576);
    add(charts.memory, 2, s.tSec, s.queueWaiting); add(charts.memory, 3, s.tSec, s.poolWaiting);
    charts.cpu.update('none'); charts.memory.update('none');
  }
  function bar(fraction) {
    var d = document.createElement('div'); d.className = 'bar';
    var b = document.createElement('span'); b.style.width = Math.max(0, Math.min(100, fraction * 100)) + '%';
    d.appendChild(b); var td = document.createElement('td'); td.appendChild(d); return td;
  }
  function setBar(id, fraction) { document.getElementById(id).style.width = Math.max(0, Math.min(100, fraction * 100)) + '%'; }
  function onStages(t) {
    state.ticks.push({ elapsedMs: t.elapsedMs, messages: t.messages, failed: t.failed, inProgress: t.inProgress });
    var x = t.elapsedMs / 1000;
    ['ingest', 'scrape', 'ai'].forEach(function (name, i) { add(charts.stageRate, i, x, t.stages[name].rowsPerSecond); });
    charts.stageRate.update('none');
    var labels = { ingest: 'ingested', scrape: 'scraped', ai: 'messages' };
    rows('stages', ['ingest', 'scrape', 'ai'].map(function (name) {
      var st = t.stages[name], handled = st.done + st.failed;
      return [cell(labels[name]), bar(st.total ? handled / st.total : 0), cell(fmt(st.done), true), cell(fmt(st.failed), true), cell(fmt(st.total), true), cell(fmt(st.rowsPerSecond), true)];
    }));
    document.getElementById('outcome').textContent = fmt(t.messages) + ' messages, ' + fmt(t.failed) + ' failed, ' +
      fmt(t.inProgress) + ' in progress of ' + fmt(t.rows) + ' rows · ' + fmt(t.elapsedMs / 1000) + ' s';
  }
  var STAGE_COLOURS = { ingest: '#8250df', write: '#bf8700', scrape: '#0550ae', ai: '#1a7f37' };
  // One chart per stage, made when its first point comes: stages differ by orders of magnitude.
  function stageChart(stage) {
    if (charts.stages[stage]) return charts.stages[stage];
    var section = document.createElement('section'); section.setAttribute('data-kind', 'level');
    section.innerHTML = '<h2></h2><div class="box"><canvas></canvas></div>';
    section.querySelector('h2').textContent = stage + ': rows per second against rows in flight';
    document.querySelector('main').appendChild(section);
    var colour = STAGE_COLOURS[stage] || '#555';
    charts.stages[stage] = new Chart(section.querySelector('canvas'), {
      type: 'scatter',
      data: { datasets: [
        { label: 'measured', data: [], pointRadius: 4, backgroundColor: colour, borderColor: colour },
        { label: 'USL fit', data: [], showLine: true, pointRadius: 0, borderWidth: 1.5, borderColor: '#cf222e' }] },
      options: { animation: false, parsing: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { type: 'logarithmic', title: { display: true, text: 'rows in flight (slots)' } },
                  y: { beginAtZero: true, title: { display: true, text: 'rows per second' } } } }
    });
    return charts.stages[stage];
  }
  function onLevel(l) {
    var what = l.stage === 'combined' ? 'every stage at once at the configured concurrency (' + fmt(l.concurrency) + ' rows in flight)' : l.stage + ' at ' + fmt(l.concurrency) + ' rows in flight';
    document.getElementById('measuring').textContent = 'window ' + l.window + ' of ' + l.windows + ': ' + what + ' · ' +
      fmt(l.elapsedMs / 1000) + ' of ' + fmt(l.budgetMs / 1000) + ' s';
    setBar('budget', l.elapsedMs / l.budgetMs);
    if (l.point) {
      state.levels.push({ stage: l.stage, concurrency: l.point.concurrency, meanInFlight: l.point.meanInFlight, throughputRps: l.point.throughputRps });
      var c = stageChart(l.stage);
      c.data.datasets[0].data.push({ x: l.point.concurrency, y: l.point.throughputRps });
      c.update('none');
    }
    if (l.combinedRps !== undefined) state.levels.push({ stage: 'combined', concurrency: l.concurrency, throughputRps: l.combinedRps });
    if (l.point || l.combinedRps !== undefined) {
      rows('levels', state.levels.map(function (p) { return [cell(p.stage), cell(fmt(p.concurrency), true), cell(p.meanInFlight === undefined ? '' : fmt(p.meanInFlight), true), cell(fmt(p.throughputRps), true)]; }));
    }
  }
  function onFit(f) {
    state.fit = f;
    f.stages.forEach(function (s) {
      if (!s.curve.length) return;
      var c = stageChart(s.stage);
      c.data.datasets[1].data = s.curve.map(function (p) { return { x: p.concurrency, y: p.throughputRps }; });
      c.data.datasets[1].label = 'USL fit on ' + s.fit.points + ' point' + (s.fit.points === 1 ? '' : 's') + ' (σ ' + s.fit.sigma.toFixed(4) + ', κ ' + s.fit.kappa.toExponential(1) + '); configured N ' + fmt(s.concurrency);
      c.update('none');
    });
    document.getElementById('measuring').textContent = 'sample done, curves fitted';
    setBar('budget', 1);
    document.getElementById('forecast').textContent = fmt(f.forecast.rows) + ' rows at ' + fmt(f.forecast.rateRps) + ' rows/s: ' +
      duration(f.forecast.totalS) + '; bottleneck ' + f.forecast.bottleneck;
  }
  function duration(s) { return s < 120 ? fmt(s) + ' s' : s < 7200 ? fmt(s / 60) + ' min' : fmt(s / 3600) + ' h'; }
  // Trial figures are often small (a 0.9 ms p50): three significant digits, not one decimal.
  function sig(v) { return v === 0 ? '0' : Number(v.toPrecision(3)).toLocaleString('en-US', { maximumFractionDigits: 6 }); }
  function pct(x) { return (x >= 0 ? '+' : '') + (Math.round(x * 1000) / 10) + ' %'; }
  function change(kind, x, unit) { return kind === 'relative' ? pct(x) : (x >= 0 ? '+' : '') + sig(x) + (unit === 'ratio' ? '' : ' ' + unit); }
  function onGateRound(g) {
    state.gateRounds.push({ scenario: g.scenario, round: g.round, roundsDone: g.roundsDone, figures: g.figures.length });
    document.getElementById('rounds').textContent = g.scenario + ': round ' + g.round + ' of ' + g.rounds + ' · ' + g.roundsDone + ' of ' + g.roundsTotal + ' rounds in all';
    setBar('roundBar', g.roundsDone / g.roundsTotal);
    g.figures.forEach(function (f) {
      var label = g.scenario + ' ' + f.figure;
      var ds = charts.gateRatio.data.datasets.find(function (d) { return d.label === label; });
      if (!ds) { ds = { label: label, data: [], pointRadius: 3, borderWidth: 1.5 }; charts.gateRatio.data.datasets.push(ds); }
      if (f.base > 0) ds.data.push({ x: g.roundsDone, y: f.head / f.base });
    });
    charts.gateRatio.update('none');
    rows('gateFigures', g.figures.map(function (f) {
      var i = f.interval;
      var verdict = cell(i ? i.verdict + (i.note ? ' (' + i.note + ')' : '') : 'needs 2 trials a side');
      if (i) verdict.className = i.failed ? 'fail' : i.verdict === 'unchanged' || i.verdict === 'improvement' ? 'pass' : '';
      return [cell(f.figure), cell(sig(f.base), true), cell(sig(f.head), true),
        cell(i ? change(i.changeKind, i.change, f.unit) : '–', true),
        cell(i ? change(i.changeKind, i.low, f.unit) + ' … ' + change(i.changeKind, i.high, f.unit) : '–', true),
        cell(i ? change(i.changeKind, i.threshold, f.unit) : '–', true), verdict];
    }));
  }
  function onEnd(e) {
    state.ended = e;
    if (state.kinds.indexOf('second') >= 0 || Object.keys(meta.thresholds).length) thresholds(e.verdicts);
    var status = document.getElementById('status');
    status.textContent = 'finished: ' + (e.summary !== undefined ? e.summary : e.passed ? 'thresholds passed' : 'a threshold failed'); status.className = 'done';
    if (e.report) { var a = document.createElement('a'); a.href = '/report'; a.textContent = 'HTML report'; document.getElementById('report').appendChild(a); }
  }
  function onEta(e) {
    state.etas = state.etas || [];
    state.etas.push(e);
    var x = e.atS - state.etas[0].atS;
    add(charts.eta, 0, x, e.remainingS); add(charts.eta, 1, x, e.lowS); add(charts.eta, 2, x, e.highS); add(charts.eta, 3, x, e.rowsLeft);
    charts.eta.update('none');
    document.getElementById('etaNow').textContent = fmt(e.remainingS) + ' s left (90 % ' + fmt(e.lowS) + ' – ' + (e.highS === null ? 'unbounded' : fmt(e.highS)) + ' s): ' + e.source;
  }
  var source = new EventSource('/events');
  source.onopen = function () { if (!state.ended) { var s = document.getElementById('status'); s.textContent = 'live'; s.className = 'live'; } };
  source.onerror = function () {
    if (state.ended) { source.close(); return; }
    state.reconnects++;
    var s = document.getElementById('status'); s.textContent = 'connection lost, reconnecting…'; s.className = 'lost';
  };
  source.onmessage = function (m) {
    var id = Number(m.lastEventId);
    if (id <= state.lastId) return;
    state.lastId = id;
    var e = JSON.parse(m.data);
    show(e.type === 'fit' ? 'level' : e.type);
    if (e.type === 'second') onSecond(e.progress);
    else if (e.type === 'server') onServer(e.sample);
    else if (e.type === 'stages') onStages(e.tick);
    else if (e.type === 'level') onLevel(e);
    else if (e.type === 'fit') onFit(e);
    else if (e.type === 'gate-round') onGateRound(e);
    else if (e.type === 'eta') onEta(e);
    else if (e.type === 'end') onEnd(e);
  };
})();
`;
