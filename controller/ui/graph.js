// The topology as SVG: routers where the controller placed them, one path per physical link
// (parallel links curve apart), coloured by utilisation, dashed when down, with a halo when
// the controller avoids the link (red: fault risk, amber: forecast hot).
const NS = 'http://www.w3.org/2000/svg';
const BIG = 60;

function el(name, attrs, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

export function utilColor(util) {
  if (util === null || util === undefined) return '#9ca3af';
  const hue = 120 * (1 - Math.min(Math.max(util, 0) / 0.9, 1));
  return `hsl(${hue.toFixed(0)}, 70%, 40%)`;
}

function bps(value) {
  const units = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, unit] of units) if (value >= size) return `${+(value / size).toFixed(1)}${unit}`;
  return `${value}`;
}

function pct(value) {
  return value === null || value === undefined ? 'n/a' : `${(value * 100).toFixed(1)} %`;
}

export class TopologyView {
  constructor(svg) {
    this.svg = svg;
    this.links = new Map();
    this.nodes = new Map();
  }

  draw(topo) {
    this.svg.replaceChildren();
    this.links.clear();
    this.nodes.clear();
    this.svg.setAttribute('viewBox', `0 0 ${topo.width} ${topo.height}`);
    this.svg.classList.toggle('big', topo.nodes.length > BIG);
    const radius = topo.nodes.length > BIG ? 4.5 : 9;
    const pos = new Map(topo.nodes.map((n) => [n.name, n]));
    const halos = el('g', { class: 'halos' }, this.svg);
    const lines = el('g', { class: 'links' }, this.svg);
    const dots = el('g', { class: 'nodes' }, this.svg);
    for (const link of topo.links) {
      const d = this.curve(pos.get(link.a), pos.get(link.b), link.offset);
      const halo = el('path', { class: 'halo', d }, halos);
      const path = el('path', { class: 'link', d, 'data-link': link.id, 'data-state': 'up' }, lines);
      const title = el('title', {}, path);
      title.textContent = `${link.id}: ${link.a} - ${link.b}, ${bps(link.capacity_bps)}bit/s`;
      this.links.set(link.id, { link, path, halo, title });
    }
    for (const node of topo.nodes) {
      const g = el('g', { class: 'node', 'data-node': node.name,
                          transform: `translate(${node.x},${node.y})` }, dots);
      el('circle', { r: radius }, g);
      const label = el('text', { x: radius + 2, y: -radius - 1 }, g);
      label.textContent = node.name;
      const title = el('title', {}, g);
      title.textContent = `${node.name} (${node.role}${node.site ? ', ' + node.site : ''}) ${node.sid}`;
      this.nodes.set(node.name, g);
    }
  }

  curve(a, b, offset) {
    if (!offset) return `M${a.x},${a.y} L${b.x},${b.y}`;
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const cx = (a.x + b.x) / 2 - (dy / len) * offset * 2;
    const cy = (a.y + b.y) / 2 + (dx / len) * offset * 2;
    return `M${a.x},${a.y} Q${cx.toFixed(1)},${cy.toFixed(1)} ${b.x},${b.y}`;
  }

  update(live) {
    for (const [id, item] of this.links) {
      const s = live.links[id];
      if (!s) continue;
      const down = s.state !== 'up';
      item.path.setAttribute('data-state', s.state);
      item.path.classList.toggle('down', down);
      item.path.setAttribute('stroke', utilColor(s.util));
      item.halo.classList.toggle('at-risk', s.at_risk);
      item.halo.classList.toggle('hot', s.hot && !s.at_risk);
      const marks = [s.at_risk ? 'at risk' : '', s.hot ? 'forecast hot' : ''].filter(Boolean);
      const { link } = item;
      item.title.textContent = `${id}: ${link.a} - ${link.b}, ${bps(link.capacity_bps)}bit/s, ` +
        `${s.state}, utilisation ${pct(s.util)}, risk ${pct(s.risk)}, ` +
        `forecast ${pct(s.forecast)}${marks.length ? ' (' + marks.join(', ') + ')' : ''}`;
    }
    const stale = new Set(live.stale);
    for (const [name, g] of this.nodes) g.classList.toggle('stale', stale.has(name));
  }

  highlight(primary, backup) {
    const on = new Set(primary ? primary.links : []);
    const alt = new Set(backup ? backup.links : []);
    const nodes = new Set([...(primary ? primary.nodes : []), ...(backup ? backup.nodes : [])]);
    this.svg.classList.toggle('selecting', on.size + alt.size > 0);
    for (const [id, item] of this.links) {
      item.path.classList.toggle('primary', on.has(id));
      item.path.classList.toggle('backup', alt.has(id) && !on.has(id));
    }
    for (const [name, g] of this.nodes) g.classList.toggle('onpath', nodes.has(name));
  }
}

// Parallel links between one pair of routers get offsets -k..k so that they curve apart.
export function withOffsets(topo) {
  const groups = new Map();
  for (const link of topo.links) {
    const key = [link.a, link.b].sort().join('\u0000');
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(link);
  }
  for (const group of groups.values()) {
    group.forEach((link, i) => {
      const flip = link.a < link.b ? 1 : -1;
      link.offset = group.length > 1 ? (i - (group.length - 1) / 2) * 7 * flip : 0;
    });
  }
  return topo;
}
