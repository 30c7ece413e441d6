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
section{background:#fff;border:1px solid #dde;border-radius:6px;padding:10px 14px}
h2{font-size:14px;margin:0 0 6px}.box{position:relative;height:220px}
table{border-collapse:collapse;width:100%}td,th{padding:3px 6px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#1a7f37}.fail{color:#cf222e}
</style>
</head>
<body>
<header><h1>${escapeHtml(meta.title)}</h1><p class="sub">${escapeHtml(meta.subtitle)} · <span id="status">connecting…</span> <span id="report"></span></p></header>
<main>
<section><h2>Arrivals and requests per second</h2><div class="box"><canvas id="rate"></canvas></div></section>
<section><h2>Latency of each second (from the intended send time)</h2><div class="box"><canvas id="latency"></canvas></div></section>
<section><h2>Target CPU and event-loop utilisation (its /metrics)</h2><div class="box"><canvas id="cpu"></canvas></div></section>
<section><h2>Target memory and queues (its /metrics)</h2><div class="box"><canvas id="memory"></canvas></div></section>
<section><h2>Steps so far</h2><table id="steps"><thead><tr><th>step</th><th>requests</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr></thead><tbody></tbody></table></section>
<section><h2>Failures by class, and thresholds</h2><table id="errors"><tbody></tbody></table><table id="thresholds"><tbody></tbody></table></section>
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
  var state = { lastId: 0, seconds: [], serverSeconds: [], ended: null, reconnects: 0 };
  window.headroomDashboard = state;
  function chart(id, yTitle, labels) {
    return new Chart(document.getElementById(id), {
      type: 'line',
      data: { datasets: labels.map(function (l) { return { label: l, data: [], pointRadius: 1, borderWidth: 1.5 }; }) },
      options: { animation: false, parsing: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { type: 'linear', title: { display: true, text: 'time (s)' } },
                  y: { beginAtZero: true, title: { display: true, text: yTitle } } } }
    });
  }
  var charts = {
    rate: chart('rate', 'per second', ['sent', 'dropped arrivals', 'finished', 'failed']),
    latency: chart('latency', 'latency (ms)', ['p50', 'p95', 'p99']),
    cpu: chart('cpu', '% of one core / % of the loop', ['CPU %', 'event loop %']),
    memory: chart('memory', 'MB / jobs', ['heap MB', 'RSS MB', 'queue waiting', 'pool waiting'])
  };
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
  function onEnd(e) {
    state.ended = e;
    thresholds(e.verdicts);
    var status = document.getElementById('status');
    status.textContent = 'finished: ' + (e.passed ? 'thresholds passed' : 'a threshold failed'); status.className = 'done';
    if (e.report) { var a = document.createElement('a'); a.href = '/report'; a.textContent = 'HTML report'; document.getElementById('report').appendChild(a); }
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
    if (e.type === 'second') onSecond(e.progress);
    else if (e.type === 'server') onServer(e.sample);
    else if (e.type === 'end') onEnd(e);
  };
})();
`;
