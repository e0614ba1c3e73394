// A small SVG line chart of LLM calls in flight over time, one panel per design, provider limit drawn.
export interface SeriesPanel {
  title: string;
  points: Array<{ t: number; inFlight: number }>;
  makespanMs: number;
}

const W = 760;
const PANEL_H = 150;
const PAD = { left: 48, right: 16, top: 24, bottom: 28 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function inFlightSvg(panels: SeriesPanel[], providerLimit: number): string {
  const maxT = Math.max(1, ...panels.map((p) => Math.max(p.makespanMs, p.points.at(-1)?.t ?? 0)));
  const maxY = Math.max(providerLimit * 1.5, ...panels.flatMap((p) => p.points.map((x) => x.inFlight)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = PANEL_H - PAD.top - PAD.bottom;
  const parts: string[] = [];
  panels.forEach((panel, i) => {
    const y0 = i * PANEL_H;
    const x = (t: number) => PAD.left + (t / maxT) * plotW;
    const y = (v: number) => y0 + PAD.top + plotH - (v / maxY) * plotH;
    // A step line: in-flight holds its value until the next change.
    let d = `M${x(0).toFixed(1)},${y(0).toFixed(1)}`;
    let last = 0;
    for (const p of panel.points) {
      d += ` L${x(p.t).toFixed(1)},${y(last).toFixed(1)} L${x(p.t).toFixed(1)},${y(p.inFlight).toFixed(1)}`;
      last = p.inFlight;
    }
    d += ` L${x(panel.makespanMs).toFixed(1)},${y(last).toFixed(1)}`;
    parts.push(
      `<text x="${PAD.left}" y="${y0 + 16}" font-size="13" font-weight="bold">${esc(panel.title)}</text>`,
      `<line x1="${PAD.left}" y1="${y(0)}" x2="${W - PAD.right}" y2="${y(0)}" stroke="#999"/>`,
      `<line x1="${PAD.left}" y1="${y0 + PAD.top}" x2="${PAD.left}" y2="${y(0)}" stroke="#999"/>`,
      `<line x1="${PAD.left}" y1="${y(providerLimit)}" x2="${W - PAD.right}" y2="${y(providerLimit)}" stroke="#d33" stroke-dasharray="6,4"/>`,
      `<text x="${W - PAD.right - 4}" y="${y(providerLimit) - 4}" font-size="11" fill="#d33" text-anchor="end">provider limit ${providerLimit}</text>`,
      `<text x="${PAD.left - 6}" y="${y(0)}" font-size="11" text-anchor="end">0</text>`,
      `<text x="${PAD.left - 6}" y="${y(maxY) + 10}" font-size="11" text-anchor="end">${Math.round(maxY)}</text>`,
      `<text x="${W - PAD.right}" y="${y(0) + 16}" font-size="11" text-anchor="end">${(maxT / 1000).toFixed(0)} s</text>`,
      `<path d="${d}" fill="none" stroke="#1f5fbf" stroke-width="1.2"/>`,
    );
  });
  const H = panels.length * PANEL_H;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
${parts.join('\n')}
</svg>
`;
}
