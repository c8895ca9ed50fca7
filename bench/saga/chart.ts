// A small hand-written SVG line chart: throughput (y) against concurrency (x, evenly spaced levels).
export type Series = { label: string; points: Array<{ x: number; y: number }> };

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Rounds `max` up to a 1/2/5 × 10^n step count of about five ticks. */
function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

export function renderThroughputSvg(series: Series[], title: string): string {
  const width = 720;
  const height = 420;
  const m = { left: 70, right: 220, top: 50, bottom: 60 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const ticks = niceTicks(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.y))));
  const yMax = ticks[ticks.length - 1]!;
  const xPos = (x: number): number => m.left + (xs.length === 1 ? plotW / 2 : (xs.indexOf(x) / (xs.length - 1)) * plotW);
  const yPos = (y: number): number => m.top + plotH - (y / yMax) * plotH;
  const f = (n: number): string => n.toFixed(1);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (const t of ticks) {
    parts.push(`<line x1="${m.left}" y1="${f(yPos(t))}" x2="${m.left + plotW}" y2="${f(yPos(t))}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${m.left - 8}" y="${f(yPos(t) + 4)}" text-anchor="end">${t}</text>`);
  }
  for (const x of xs) {
    parts.push(`<line x1="${f(xPos(x))}" y1="${m.top + plotH}" x2="${f(xPos(x))}" y2="${m.top + plotH + 5}" stroke="#333"/>`);
    parts.push(`<text x="${f(xPos(x))}" y="${m.top + plotH + 20}" text-anchor="middle">${x}</text>`);
  }
  parts.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${m.left}" y1="${m.top + plotH}" x2="${m.left + plotW}" y2="${m.top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 15}" text-anchor="middle">concurrency (sagas in flight)</text>`);
  parts.push(`<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">sagas per second</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.map((p) => `${f(xPos(p.x))},${f(yPos(p.y))}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of s.points) {
      parts.push(
        `<circle cx="${f(xPos(p.x))}" cy="${f(yPos(p.y))}" r="3.5" fill="${color}"><title>${esc(`${s.label}: ${p.y.toFixed(1)}/s at ${p.x}`)}</title></circle>`,
      );
    }
    const ly = m.top + 10 + i * 22;
    parts.push(`<line x1="${m.left + plotW + 20}" y1="${ly}" x2="${m.left + plotW + 44}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${m.left + plotW + 50}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
