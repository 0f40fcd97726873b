// The console's picture of the last day, drawn as SVG by the page itself (no library, no CDN):
// runs per hour stacked by status, and the duration percentiles of the finished runs.
// Colours come from console.css (.series-<status>): the Content-Security-Policy allows no
// inline style, and SVG presentation attributes and classes need none.
"use strict";

const SERIES = ["success", "failed", "timed_out", "crashed", "dead", "running", "queued"];
const SVG = "http://www.w3.org/2000/svg";
const CHART = { width: 480, height: 130, left: 28, bottom: 18, top: 8 };

function svgElement(name, attributes = {}, text = "") {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text) element.textContent = text;
  return element;
}

function hourOf(iso) {
  return iso.slice(11, 16);  // "2026-12-01T08:00:00Z" -> "08:00" (UTC)
}

function barTitle(bucket) {
  const parts = SERIES.filter((status) => bucket.counts[status])
    .map((status) => bucket.counts[status] + " " + status);
  return hourOf(bucket.start) + " UTC: " + (parts.join(", ") || "no runs");
}

function drawBars(stats) {
  const { width, height, left, bottom, top } = CHART;
  const svg = svgElement("svg", { id: "stats-svg", viewBox: `0 0 ${width} ${height}`,
    role: "img", "aria-label": "Runs per hour by status, last 24 hours" });
  const totals = stats.buckets.map((bucket) => SERIES.reduce((sum, s) => sum + (bucket.counts[s] || 0), 0));
  const most = Math.max(1, ...totals);
  const plotHeight = height - bottom - top;
  const slot = (width - left) / stats.buckets.length;
  svg.append(svgElement("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, class: "axis" }));
  svg.append(svgElement("text", { x: left - 4, y: top + 8, "text-anchor": "end", class: "tick" }, String(most)));
  svg.append(svgElement("text", { x: left - 4, y: height - bottom, "text-anchor": "end", class: "tick" }, "0"));
  stats.buckets.forEach((bucket, index) => {
    const x = left + index * slot;
    const group = svgElement("g", { class: "bar", "data-start": bucket.start, "data-total": totals[index] });
    group.append(svgElement("title", {}, barTitle(bucket)));
    let y = height - bottom;
    for (const status of SERIES) {
      const count = bucket.counts[status] || 0;
      if (!count) continue;
      const barHeight = Math.max(1, (count / most) * plotHeight);
      y -= barHeight;
      group.append(svgElement("rect", { x: x + 1, y, width: Math.max(1, slot - 2), height: barHeight,
        class: "series-" + status, "data-status": status, "data-count": count }));
    }
    svg.append(group);
    if (index % 6 === 0) {
      svg.append(svgElement("text", { x: x + slot / 2, y: height - 4, "text-anchor": "middle", class: "tick" },
        hourOf(bucket.start)));
    }
  });
  return svg;
}

function drawLegend(stats) {
  const items = SERIES.filter((status) => stats.totals[status]).map((status) => {
    const item = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = "swatch series-" + status;
    item.append(swatch, " " + status + " " + stats.totals[status]);
    return item;
  });
  return items.length ? items : [document.createTextNode("No runs in the last 24 hours.")];
}

function drawDurations(durations) {
  const figure = document.createElement("span");
  if (!durations.count) {
    figure.textContent = "No finished runs to time yet.";
    return [figure];
  }
  const width = 240, height = 22, pad = 6;
  const svg = svgElement("svg", { id: "durations-svg", viewBox: `0 0 ${width} ${height}`, class: "durations-svg",
    role: "img", "aria-label": "Duration percentiles" });
  const longest = Math.max(durations.p99, 0.001);
  svg.append(svgElement("line", { x1: pad, y1: 11, x2: width - pad, y2: 11, class: "axis" }));
  for (const name of ["p50", "p90", "p99"]) {
    const x = pad + (durations[name] / longest) * (width - 2 * pad);
    const mark = svgElement("circle", { cx: x, cy: 11, r: 4, class: "mark-" + name, "data-percentile": name });
    mark.append(svgElement("title", {}, name + ": " + durations[name].toFixed(3) + " s"));
    svg.append(mark);
  }
  figure.textContent = `Duration of ${durations.count} finished run(s): p50 ${durations.p50.toFixed(2)} s · `
    + `p90 ${durations.p90.toFixed(2)} s · p99 ${durations.p99.toFixed(2)} s `;
  return [figure, svg];
}

function drawStats(figure, stats) {
  figure.hidden = false;
  figure.querySelector("#stats-chart").replaceChildren(drawBars(stats));
  figure.querySelector("#stats-legend").replaceChildren(...drawLegend(stats));
  figure.querySelector("#stats-durations").replaceChildren(...drawDurations(stats.duration_seconds));
}
