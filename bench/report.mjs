// Turns the raw runs into Markdown. Only verified runs contribute numbers: a run whose exit status or
// output was wrong is counted in "runs ok" and listed under Failures, never averaged in as a time.

export function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const fmtRate = (x) => (!Number.isFinite(x) ? '–' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));

export function summarize(runs) {
  const ok = runs.filter((r) => r.ok);
  const walls = ok.map((r) => r.wall);
  return {
    total: runs.length,
    ok: ok.length,
    wall: median(walls),
    min: Math.min(...walls),
    max: Math.max(...walls),
    cpu: median(ok.map((r) => r.cpu)),
    user: median(ok.map((r) => r.user)),
    sys: median(ok.map((r) => r.sys)),
    rss: ok.length ? Math.max(...ok.map((r) => r.rssMiB)) : NaN,
    approx: runs.some((r) => r.approx),
  };
}

// One table per workload. The ratio to curl compares rates (files/s for the small-file workloads,
// MB/s for the big ones), so above 1 means faster than curl.
export function workloadTable(wl, toolNames, runsOf) {
  const files = wl.items.length;
  const bytes = wl.bytes;
  const byFiles = wl.set === 'small';
  const sums = new Map(toolNames.map((t) => [t, summarize(runsOf(t))]));
  const rate = (s) => (byFiles ? files / s.wall : bytes / 1e6 / s.wall);
  const curl = sums.get('curl');
  const curlRate = curl && curl.ok ? rate(curl) : NaN;
  const lines = [
    `### ${wl.id}: ${wl.title}`,
    '',
    `${files.toLocaleString('en-US')} files, ${(bytes / 1e6).toFixed(1)} MB; ${wl.conns} connections${wl.perHost ? `, ${wl.perHost} per host` : ''}; ${wl.hosts} endpoint${wl.hosts > 1 ? 's' : ''}.`,
    '',
    `| tool | runs ok | median wall s (min–max) | files/s | MB/s | CPU s (user+sys) | CPU µs per file | CPU ms per MiB | peak RSS MiB | ratio to curl (${byFiles ? 'files/s' : 'MB/s'}) |`,
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const t of toolNames) {
    const s = sums.get(t);
    if (s.total === 0) continue;
    if (s.ok === 0) {
      lines.push(`| ${t} | 0/${s.total} | **FAILED** | – | – | – | – | – | – | – |`);
      continue;
    }
    const r = rate(s);
    const ratio = Number.isFinite(curlRate) ? `${(r / curlRate).toFixed(2)}×` : '–';
    const okCell = s.ok === s.total ? `${s.ok}/${s.total}` : `${s.ok}/${s.total} (${s.total - s.ok} FAILED)`;
    lines.push(
      `| ${t} | ${okCell} | ${fmt(s.wall, 3)} (${fmt(s.min, 3)}–${fmt(s.max, 3)}) | ${fmtRate(files / s.wall)} | ${fmtRate(bytes / 1e6 / s.wall)} | ` +
        `${fmt(s.cpu)} (${fmt(s.user)}+${fmt(s.sys)}) | ${wl.set === 'large' ? '–' : fmt((s.cpu * 1e6) / files, 0)} | ${fmt((s.cpu * 1000) / (bytes / 1048576), 2)} | ${fmt(s.rss, 1)}${s.approx ? ' (approx)' : ''} | ${ratio} |`,
    );
  }
  lines.push('');
  return { lines, sums };
}

export function failureLines(failures) {
  if (failures.length === 0) return [];
  const out = ['### Failures', ''];
  for (const f of failures) {
    out.push(`- round ${f.round}, ${f.workload}, ${f.tool}: ${f.reason}`);
    if (f.stderr) {
      const text = f.stderr.length > 1200 ? `${f.stderr.slice(0, 1200)}\n…` : f.stderr;
      out.push('', '  ```', ...text.split('\n').slice(0, 25).map((l) => `  ${l}`), '  ```', '');
    }
  }
  out.push('');
  return out;
}
