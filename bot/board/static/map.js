// The board's map: SVG drawn in the browser from GET /board/api/geo (the border, the towns)
// and the incident's data (GET /board/api/incidents/<ref>): the incident, its committed units
// (coloured by status, with their ETA), the nearest available units, the at-risk sites with
// their planning radius (a circle in km), the located timeline entries (numbered as in
// /timeline). Pan by dragging or with the arrow keys, zoom with the wheel, + and - or the
// buttons; 0 or the ⌂ button goes back to the whole view. An optional raster tile layer
// (XYZ) when the operator has a tile server ([board] tiles_url): nothing else is fetched.
//
// One projection throughout: Web Mercator (that of XYZ tiles), in "world" units where the
// world is 1 x 1; on screen, one world unit is 256 * 2^zoom pixels.
//
//   const map = drawMap(svg, geo, detail, {t, lang});  // detail: the incident's JSON
//   updateMap(svg, newDetail);                           // keeps the reader's pan and zoom
//
// options: t(msgid) → the reader's words (default: the English msgid; the msgids are
// bot/board/geo.py's MAP_WORDS), lang ("fr", "nl", "en": numbers, towns' names), languages
// (["fr", "nl"]: a mixed group's, towns named in each: "Lille / Rijsel"), tilesUrl (overrides
// geo.tiles_url), legend (true/false; default: shown on a map of at least 900 x 500 px),
// onSelect(feature) (a marker clicked or chosen with Enter).
// Labels are placed apart: the incident's and the units' first, then the sites', then the
// towns' biggest first, each only where it covers nothing already there (towns appear as the
// reader zooms in). Sizes follow the svg's CSS font-size (a large-type mode makes it all larger).

const SVG = "http://www.w3.org/2000/svg";
const EARTH_KM = 40075.016686;
const MIN_ZOOM = 5;
const MAX_ZOOM = 17;
const MIN_HALF_SPAN_KM = 12;
const MAX_HALF_SPAN_KM = 90;
const PAN_STEP_PX = 80;
const MAX_TOWN_LABELS = 80;
const MAX_MARKS = 20;

export const STATUS_COLOUR = {
  committed: "#1f5fbf",
  en_route: "#b34700",
  on_scene: "#1b7a3a",
  released: "#6b6b6b",
  available: "#1b7a3a",
};
const STATUS_WORD = {
  committed: "committed",
  en_route: "en route",
  on_scene: "on scene",
  released: "released",
  available: "available",
};
const INCIDENT_COLOUR = "#c8102e";
const NEAREST_COLOUR = "#1b7a3a";
const SITE_COLOUR = "#7b2d8e";
const MARK_COLOUR = "#00695c";
const BORDER_COLOUR = "#444444";
const TOWN_COLOUR = "#4a4a4a";

const views = new WeakMap(); // svg → its map

// --- projection ------------------------------------------------------------------------------

export function project(lat, lon) {
  const phi = (Math.max(-85, Math.min(85, lat)) * Math.PI) / 180;
  return [
    (lon + 180) / 360,
    (1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2,
  ];
}

export function unproject(x, y) {
  const lon = x * 360 - 180;
  const lat = (Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180) / Math.PI;
  return [lat, lon];
}

// world units per km at a latitude
function perKm(lat) {
  return 1 / (EARTH_KM * Math.cos((lat * Math.PI) / 180));
}

const located = (thing) =>
  thing && Number.isFinite(thing.lat) && Number.isFinite(thing.lon);

function borderLines(geo) {
  const border = (geo && geo.border) || [];
  if (!border.length) return [];
  // [[lat, lon], ...] (one line) or [[[lat, lon], ...], ...] (several)
  return Array.isArray(border[0][0]) ? border : [border];
}

// --- the data --------------------------------------------------------------------------------

function features(detail) {
  const d = detail || {};
  const incident = d.incident || null;
  return {
    incident: located(incident) ? incident : null,
    units: (d.units || []).filter(located),
    nearest: (d.nearest || []).filter(located),
    sites: (d.sites || []).filter(located),
    // the latest located entries (the timeline comes newest first), as on /map
    marks: (d.timeline || []).filter(located).slice(0, MAX_MARKS),
  };
}

// The box (world units) to show at first: around the incident, holding its units, sites and
// marks, at least MIN_HALF_SPAN_KM each way, at most MAX_HALF_SPAN_KM; no incident: the border.
function homeBox(f, geo) {
  if (f.incident) {
    const [cx, cy] = project(f.incident.lat, f.incident.lon);
    const k = perKm(f.incident.lat);
    let half = MIN_HALF_SPAN_KM * k;
    const around = [
      ...f.units.map((u) => [u, 0]),
      ...f.nearest.map((u) => [u, 0]),
      ...f.sites.map((s) => [s, (s.radius_km || 0) * k]),
      ...f.marks.map((m) => [m, 0]),
    ];
    for (const [thing, radius] of around) {
      const [x, y] = project(thing.lat, thing.lon);
      half = Math.max(half, (Math.max(Math.abs(x - cx), Math.abs(y - cy)) + radius) * 1.1);
    }
    half = Math.min(half, MAX_HALF_SPAN_KM * k);
    return [cx - half, cy - half, cx + half, cy + half];
  }
  const points = borderLines(geo).flat();
  if (!points.length) {
    const [x0, y0] = project(51.6, 1.5);
    const [x1, y1] = project(49.4, 6.5);
    return [x0, y0, x1, y1];
  }
  const xy = points.map(([lat, lon]) => project(lat, lon));
  const xs = xy.map((p) => p[0]);
  const ys = xy.map((p) => p[1]);
  const pad = 0.05 * (Math.max(...xs) - Math.min(...xs));
  return [Math.min(...xs) - pad, Math.min(...ys) - pad, Math.max(...xs) + pad, Math.max(...ys) + pad];
}

// --- words -----------------------------------------------------------------------------------

function say(options, msgid, values = {}) {
  const text = options.t ? options.t(msgid) || msgid : msgid;
  return text.replace(/\{(\w+)\}/g, (all, key) => (key in values ? String(values[key]) : all));
}

// A unit's status: the map's word, else the page's ("offer:en_route", as the board's strings
// name the values of the vocabulary), else English.
function statusWord(options, status) {
  const msgid = STATUS_WORD[status];
  const text = say(options, msgid);
  if (text !== msgid || !options.t) return text;
  const other = options.t(`offer:${status}`);
  return other && other !== `offer:${status}` ? other : text;
}

function number(options, value, digits = 1) {
  try {
    return new Intl.NumberFormat(options.lang || "en", { maximumFractionDigits: digits }).format(
      value,
    );
  } catch {
    return String(Math.round(value * 10) / 10);
  }
}

// --- SVG helpers -----------------------------------------------------------------------------

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  if (parent) parent.appendChild(node);
  return node;
}

function titled(node, text) {
  el("title", {}, node).textContent = text;
  return node;
}

// Text widths, measured the way the browser will draw them (a canvas with the svg's font).
function measurer(svg) {
  const style = getComputedStyle(svg);
  const context = document.createElement("canvas").getContext("2d");
  const cache = new Map();
  return (text, size, weight = "normal") => {
    const key = `${weight}|${size}|${text}`;
    if (!cache.has(key)) {
      context.font = `${weight} ${size}px ${style.fontFamily || "sans-serif"}`;
      cache.set(key, context.measureText(text).width);
    }
    return cache.get(key);
  };
}

// --- label placement -------------------------------------------------------------------------

const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

class Space {
  constructor(width, height) {
    this.area = { x0: 0, y0: 0, x1: width, y1: height };
    this.taken = [];
  }
  take(box) {
    this.taken.push(box);
  }
  free(box) {
    return (
      box.x0 >= this.area.x0 &&
      box.y0 >= this.area.y0 &&
      box.x1 <= this.area.x1 &&
      box.y1 <= this.area.y1 &&
      !this.taken.some((other) => overlaps(box, other))
    );
  }
  // A spot for a w x h label beside the point (x, y), `gap` away: right, left, above, below,
  // then the corners; then (`rings` > 1) further out, in 16 directions, tied to its point by a
  // line. `must`: if no spot is free, the least covered inside the map. Returns {box, line}.
  place(x, y, w, h, gap, must, rings = 1, pad = 2) {
    const padded = (b) => ({ x0: b.x0 - pad, y0: b.y0 - pad, x1: b.x1 + pad, y1: b.y1 + pad });
    let best = null;
    for (let ring = 0; ring < rings; ring++) {
      const radius = gap + ring * (h + 4);
      for (const [dx, dy] of ring === 0 ? DIRECTIONS : MORE_DIRECTIONS) {
        const px = x + radius * dx;
        const py = y + radius * dy;
        let x0 = dx > 0.3 ? px : dx < -0.3 ? px - w : px - w / 2;
        let y0 = dy > 0.3 ? py : dy < -0.3 ? py - h : py - h / 2;
        if (ring > 0) {
          // set apart anyway: slid along its side to stay on the map (a long label on a phone)
          x0 = clamp(x0, pad, Math.max(pad, this.area.x1 - pad - w));
          y0 = clamp(y0, pad, Math.max(pad, this.area.y1 - pad - h));
        }
        const box = { x0, y0, x1: x0 + w, y1: y0 + h };
        const p = padded(box);
        if (p.x0 < 0 || p.y0 < 0 || p.x1 > this.area.x1 || p.y1 > this.area.y1) continue;
        let covered = 0;
        for (const other of this.taken) {
          if (overlaps(p, other)) {
            covered += (Math.min(p.x1, other.x1) - Math.max(p.x0, other.x0)) *
              (Math.min(p.y1, other.y1) - Math.max(p.y0, other.y0));
          }
        }
        if (covered === 0) {
          this.take(p);
          return { box, line: ring > 0 ? [x, y, ...nearestPoint(box, x, y)] : null, ring };
        }
        if (must && (!best || covered < best.covered)) best = { covered, box, ring };
      }
    }
    if (!best) return null;
    this.take(padded(best.box));
    return { box: best.box, line: best.ring > 0 ? [x, y, ...nearestPoint(best.box, x, y)] : null, ring: best.ring };
  }
}

const DIRECTIONS = [0, 180, 270, 90, 315, 225, 45, 135].map((a) => [
  Math.cos((a * Math.PI) / 180),
  Math.sin((a * Math.PI) / 180),
]);
const MORE_DIRECTIONS = Array.from({ length: 16 }, (_, i) => [
  Math.cos((i * Math.PI) / 8),
  Math.sin((i * Math.PI) / 8),
]);

function nearestPoint(box, x, y) {
  return [clamp(x, box.x0, box.x1), clamp(y, box.y0, box.y1)];
}

// --- the map ---------------------------------------------------------------------------------

class BoardMap {
  constructor(svg, geo, detail, options) {
    this.svg = svg;
    this.geo = geo || {};
    this.options = { ...options };
    this.detail = detail || {};
    this.f = features(this.detail);
    this.view = null; // {x, y, zoom}: the world point at the centre, and the zoom
    this.frame = 0;
    this.pointers = new Map();
    this.selectable = new WeakMap(); // a marker's <g> → what it shows
    this.setUp();
    this.home();
  }

  get tilesUrl() {
    return this.options.tilesUrl ?? this.geo.tiles_url ?? "";
  }

  setUp() {
    const svg = this.svg;
    svg.replaceChildren();
    svg.classList.add("pmap");
    svg.setAttribute("role", "application");
    svg.setAttribute("tabindex", "0");
    svg.setAttribute("aria-roledescription", "map");
    this.describe();
    svg.style.touchAction = "none";
    svg.style.userSelect = "none";
    if (!svg.style.fontFamily && !svg.getAttribute("font-family")) {
      svg.setAttribute("font-family", "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif");
    }
    // the keyboard's focus on the map and its buttons is styled by the page's stylesheet
    // (board.css: .pmap, .pmap-button): the board's Content-Security-Policy refuses styles
    // written by scripts
    this.layers = {};
    for (const name of ["background", "tiles", "border", "sites", "towns", "marks", "units", "incident", "leaders", "labels", "scale", "chrome"]) {
      this.layers[name] = el("g", { class: `pmap-layer-${name}` }, svg);
    }
    this.handlers = {
      keydown: (e) => this.onKey(e),
      wheel: (e) => this.onWheel(e),
      pointerdown: (e) => this.onPointerDown(e),
      pointermove: (e) => this.onPointerMove(e),
      pointerup: (e) => this.onPointerUp(e),
      pointercancel: (e) => this.onPointerUp(e),
    };
    for (const [name, handler] of Object.entries(this.handlers)) {
      svg.addEventListener(name, handler, name === "wheel" ? { passive: false } : undefined);
    }
    if (typeof ResizeObserver !== "undefined") {
      this.resized = new ResizeObserver(() => {
        // drawn while hidden (no size yet): the whole view once it has one
        if (this.homeless && this.hasSize()) this.home();
        else this.redraw();
      });
      this.resized.observe(svg);
    }
  }

  describe() {
    const ref = this.f.incident ? this.f.incident.ref : null;
    const help = say(this.options, "Map: drag or use the arrow keys to move, + and − to zoom");
    const label = ref != null ? `${say(this.options, "Incident #{ref}", { ref })}. ${help}` : help;
    this.svg.setAttribute("aria-label", label);
  }

  size() {
    const box = this.svg.getBoundingClientRect();
    return [Math.max(1, box.width || this.svg.clientWidth || 300), Math.max(1, box.height || this.svg.clientHeight || 200)];
  }

  // text widths, kept while the map's font stays the same
  measurer() {
    const family = getComputedStyle(this.svg).fontFamily;
    if (!this.measuring || this.measuring.family !== family) {
      this.measuring = { family, measure: measurer(this.svg) };
    }
    return this.measuring.measure;
  }

  em() {
    const size = parseFloat(getComputedStyle(this.svg).fontSize);
    return Number.isFinite(size) && size > 0 ? size : 14;
  }

  // the whole view: the incident and what is around it, fitted
  hasSize() {
    const box = this.svg.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  }

  home() {
    this.homeless = !this.hasSize();
    const [w, h] = this.size();
    const [x0, y0, x1, y1] = homeBox(this.f, this.geo);
    // the legend (top left) keeps its part of the map: the rest holds the whole view
    const left = this.legendShown() ? this.legendLayout(this.em(), this.measurer()).width + 16 : 0;
    const room = Math.max(w - left, w / 2);
    const scale = Math.min(room / Math.max(x1 - x0, 1e-9), h / Math.max(y1 - y0, 1e-9));
    const zoom = clamp(Math.log2(scale / 256), MIN_ZOOM, MAX_ZOOM);
    const shift = (w - room) / 2 / (256 * 2 ** zoom); // world units: the centre moves right
    this.view = { x: (x0 + x1) / 2 - shift, y: (y0 + y1) / 2, zoom };
    this.redraw(true);
  }

  scale() {
    return 256 * 2 ** this.view.zoom;
  }

  // world → screen
  toScreen(x, y) {
    const [w, h] = this.size();
    const s = this.scale();
    return [(x - this.view.x) * s + w / 2, (y - this.view.y) * s + h / 2];
  }

  at(lat, lon) {
    const [x, y] = project(lat, lon);
    return this.toScreen(x, y);
  }

  panBy(dx, dy) {
    const s = this.scale();
    this.view = { ...this.view, x: this.view.x + dx / s, y: this.view.y + dy / s };
    this.redraw();
  }

  // zoom by `steps` (1: twice as close), keeping the screen point (px, py) still
  zoomBy(steps, px, py) {
    const [w, h] = this.size();
    const cx = px ?? w / 2;
    const cy = py ?? h / 2;
    const before = this.scale();
    const zoom = clamp(this.view.zoom + steps, MIN_ZOOM, MAX_ZOOM);
    const after = 256 * 2 ** zoom;
    // the world point under (cx, cy) stays there
    const wx = this.view.x + (cx - w / 2) / before;
    const wy = this.view.y + (cy - h / 2) / before;
    this.view = { x: wx - (cx - w / 2) / after, y: wy - (cy - h / 2) / after, zoom };
    this.redraw();
  }

  // {lat, lon, zoom}, each optional (as getView gives it)
  setView(view = {}) {
    let { x, y } = this.view;
    if (Number.isFinite(view.lat) && Number.isFinite(view.lon)) [x, y] = project(view.lat, view.lon);
    const zoom = clamp(Number.isFinite(view.zoom) ? view.zoom : this.view.zoom, MIN_ZOOM, MAX_ZOOM);
    this.view = { x, y, zoom };
    this.redraw(true);
  }

  getView() {
    const [lat, lon] = unproject(this.view.x, this.view.y);
    return { lat, lon, zoom: this.view.zoom };
  }

  update(detail, options) {
    if (options) this.options = { ...this.options, ...options };
    this.detail = detail || {};
    const hadIncident = !!this.f.incident;
    this.f = features(this.detail);
    this.describe();
    if (!hadIncident && this.f.incident) this.home();
    else this.redraw(true);
  }

  destroy() {
    for (const [name, handler] of Object.entries(this.handlers)) {
      this.svg.removeEventListener(name, handler);
    }
    if (this.resized) this.resized.disconnect();
    if (this.frame) cancelAnimationFrame(this.frame);
    views.delete(this.svg);
    this.svg.replaceChildren();
  }

  // --- input ---

  onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (e.target !== this.svg && (e.key === "Enter" || e.key === " ")) return; // a button
    if (moves[e.key]) {
      const [dx, dy] = moves[e.key];
      this.panBy(dx * PAN_STEP_PX, dy * PAN_STEP_PX);
    } else if (e.key === "+" || e.key === "=") {
      this.zoomBy(1);
    } else if (e.key === "-" || e.key === "_") {
      this.zoomBy(-1);
    } else if (e.key === "0" || e.key === "Home") {
      this.home();
    } else {
      return;
    }
    e.preventDefault();
  }

  onWheel(e) {
    e.preventDefault();
    const box = this.svg.getBoundingClientRect();
    const lines = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
    const steps = clamp((-e.deltaY * lines) / 300, -1, 1);
    this.zoomBy(steps, e.clientX - box.left, e.clientY - box.top);
  }

  onPointerDown(e) {
    if (e.button !== undefined && e.button !== 0) return;
    if (e.target.closest && e.target.closest(".pmap-button")) return;
    this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    this.pressed = e.target;
    try {
      this.svg.setPointerCapture(e.pointerId);
    } catch {
      // a synthetic pointer cannot be captured
    }
    this.dragged = false;
    this.moved = 0;
  }

  onPointerMove(e) {
    const last = this.pointers.get(e.pointerId);
    if (!last) return;
    if (this.pointers.size === 2) {
      // pinch: zoom by how much the two fingers moved apart, around their middle
      const [a, b] = [...this.pointers.values()];
      const before = Math.hypot(a.x - b.x, a.y - b.y);
      this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      const [c, d] = [...this.pointers.values()];
      const after = Math.hypot(c.x - d.x, c.y - d.y);
      if (before > 0 && after > 0) {
        const box = this.svg.getBoundingClientRect();
        this.zoomBy(Math.log2(after / before), (c.x + d.x) / 2 - box.left, (c.y + d.y) / 2 - box.top);
      }
      return;
    }
    const dx = e.clientX - last.x;
    const dy = e.clientY - last.y;
    this.moved += Math.abs(dx) + Math.abs(dy);
    if (this.moved > 4) this.dragged = true; // a finger's tap wobbles a little
    this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    this.panBy(-dx, -dy);
  }

  onPointerUp(e) {
    const was = this.pointers.delete(e.pointerId);
    // a marker pressed and let go without moving the map: chosen (the pointer is captured by
    // the map while pressed, so no click reaches the marker itself)
    const marker = this.pressed && this.pressed.closest && this.pressed.closest(".pmap-unit, .pmap-nearest");
    this.pressed = null;
    if (was && e.type === "pointerup" && !this.dragged && marker && this.options.onSelect) {
      const feature = this.selectable.get(marker);
      if (feature) this.options.onSelect(feature);
    }
  }

  // --- drawing ---

  // `now`: at once (a new view, new data); else at the next frame (drag, wheel)
  redraw(now = false) {
    if (!this.view) return;
    if (now) {
      if (this.frame) cancelAnimationFrame(this.frame);
      this.frame = 0;
      this.draw();
      return;
    }
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw() {
    const [w, h] = this.size();
    const em = this.em();
    const L = this.layers;
    const o = this.options;
    for (const [name, layer] of Object.entries(L)) if (name !== "chrome") layer.replaceChildren();
    this.svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const measure = this.measurer();
    const space = new Space(w, h);
    const s = this.scale();

    el("rect", { x: 0, y: 0, width: w, height: h, fill: "#f4f1ea" }, L.background);
    this.drawTiles(w, h);

    // the chrome first: labels keep clear of the buttons, the legend, the scale. The buttons
    // and the legend are drawn again only when the size, the type or the words change (a
    // button keeps the keyboard's focus while the map moves under it)
    const key = [w, h, em, this.legendShown(), say(o, "Legend"), this.f.incident && this.f.incident.ref].join("|");
    if (key !== this.chromeKey) {
      L.chrome.replaceChildren();
      this.chromeBoxes = this.drawChrome(w, h, em, measure);
      this.chromeKey = key;
    }
    for (const box of this.chromeBoxes) space.take(box);
    space.take(this.drawScale(w, h, em, measure));

    // the border
    for (const line of borderLines(this.geo)) {
      const d = line
        .map(([lat, lon], i) => {
          const [x, y] = this.at(lat, lon);
          return `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
        })
        .join("");
      titled(
        el("path", { d, fill: "none", stroke: BORDER_COLOUR, "stroke-width": 2, "stroke-dasharray": "8 4 2 4", class: "pmap-border-line" }, L.border),
        say(o, "France–Belgium border"),
      );
    }

    const marker = Math.max(6, em * 0.55); // a unit's radius, px
    const labelSize = Math.round(em * 0.95);
    const townSize = Math.round(em * 0.85);
    const labels = []; // [x, y, gap, text, colour, size, weight, must, kind, key]
    const inView = (x, y, margin = 0) => x >= -margin && y >= -margin && x <= w + margin && y <= h + margin;

    // the at-risk sites: their planning radius
    for (const site of this.f.sites) {
      const [x, y] = this.at(site.lat, site.lon);
      const r = (site.radius_km || 0) * perKm(site.lat) * s;
      if (!inView(x, y, r + 10)) continue;
      const g = el("g", { class: "pmap-site", "data-name": site.name }, L.sites);
      titled(g, `${site.name}${site.radius_km ? ` · ${number(o, site.radius_km)} km` : ""}`);
      if (r > 0) {
        el("circle", { cx: x, cy: y, r, fill: SITE_COLOUR, "fill-opacity": 0.08, stroke: SITE_COLOUR, "stroke-width": 1.5, "stroke-dasharray": "6 4", class: "pmap-radius" }, g);
      }
      el("path", { d: triangle(x, y, marker * 0.9), fill: SITE_COLOUR, stroke: "#ffffff", "stroke-width": 1 }, g);
      space.take(boxAround(x, y, marker));
      labels.push([x, y, marker + 2, site.name, SITE_COLOUR, labelSize, "normal", false, "site", site.name]);
    }

    // located timeline entries
    for (const mark of this.f.marks) {
      const [x, y] = this.at(mark.lat, mark.lon);
      if (!inView(x, y, 20)) continue;
      const n = mark.n ?? "";
      const text = String(n);
      const r = Math.max(marker, measure(text, labelSize * 0.85, "bold") / 2 + 3);
      const g = el("g", { class: "pmap-mark", "data-n": n }, L.marks);
      titled(g, [`${n}.`, mark.author, mark.text].filter(Boolean).join(" "));
      el("circle", { cx: x, cy: y, r, fill: MARK_COLOUR, stroke: "#ffffff", "stroke-width": 1.5 }, g);
      el("text", { x, y, "text-anchor": "middle", "dominant-baseline": "central", fill: "#ffffff", "font-size": labelSize * 0.85, "font-weight": "bold" }, g).textContent = text;
      space.take(boxAround(x, y, r));
    }

    // nearest available units: hollow
    for (const unit of this.f.nearest) {
      const [x, y] = this.at(unit.lat, unit.lon);
      if (!inView(x, y, 20)) continue;
      const g = this.unitMarker(L.units, unit, x, y, marker, "#ffffff", NEAREST_COLOUR, "pmap-nearest");
      titled(g, [unit.code, unit.name, unit.agency, unit.distance_km != null ? `${number(o, unit.distance_km)} km` : null, say(o, "available")].filter(Boolean).join(" · "));
      space.take(boxAround(x, y, marker));
      const text = unit.distance_km != null ? `${unit.code} · ${number(o, unit.distance_km)} km` : unit.code;
      labels.push([x, y, marker + 3, text, NEAREST_COLOUR, labelSize, "normal", true, "nearest", unit.code]);
    }

    // committed units: filled, the colour of their status
    for (const unit of this.f.units) {
      const [x, y] = this.at(unit.lat, unit.lon);
      if (!inView(x, y, 20)) continue;
      const colour = STATUS_COLOUR[unit.status] || STATUS_COLOUR.committed;
      const g = this.unitMarker(L.units, unit, x, y, marker, colour, "#ffffff", "pmap-unit");
      g.setAttribute("data-status", unit.status || "");
      const parts = [unit.code];
      if (STATUS_WORD[unit.status]) parts.push(statusWord(o, unit.status));
      if (Number.isFinite(unit.eta_minutes) && unit.status !== "on_scene" && unit.status !== "released") {
        parts.push(say(o, "in {n} min", { n: Math.round(unit.eta_minutes) }));
      }
      titled(g, [...parts, unit.name, unit.agency].filter(Boolean).join(" · "));
      space.take(boxAround(x, y, marker));
      labels.push([x, y, marker + 3, parts.join(" · "), colour, labelSize, "bold", true, "unit", unit.code]);
    }

    // the incident, on top
    const inc = this.f.incident;
    if (inc) {
      const [x, y] = this.at(inc.lat, inc.lon);
      const r = marker * 1.6;
      const g = el("g", { class: "pmap-incident", "data-ref": inc.ref }, L.incident);
      const title = say(o, "Incident #{ref}", { ref: inc.ref });
      titled(g, [title, inc.title, inc.location_text].filter(Boolean).join(" · "));
      el("path", { d: star(x, y, r), fill: INCIDENT_COLOUR, stroke: "#ffffff", "stroke-width": 2 }, g);
      space.take(boxAround(x, y, r));
      labels.unshift([x, y, r + 3, `#${inc.ref}`, INCIDENT_COLOUR, Math.round(em * 1.05), "bold", true, "incident", String(inc.ref)]);
    }

    // the towns that fit, biggest first, after everything else
    const towns = [];
    for (const town of this.geo.towns || []) {
      const [x, y] = this.at(town.lat, town.lon);
      if (inView(x, y)) towns.push([x, y, town]);
    }
    towns.sort((a, b) => (b[2].population || 0) - (a[2].population || 0));

    for (const [x, y, gap, text, colour, size, weight, must, kind, key] of labels) {
      const width = measure(text, size, weight);
      const height = size * 1.2;
      const spot = space.place(x, y, width, height, gap, must, must ? 8 : 2);
      if (!spot) continue;
      if (spot.line) {
        const [x1, y1, x2, y2] = spot.line;
        el("path", { d: `M${x1},${y1}L${x2},${y2}`, stroke: colour, "stroke-width": 1, class: "pmap-leader" }, L.leaders);
      }
      this.label(spot.box, text, colour, size, weight, kind, key);
    }

    // the towns: first the biggest, wherever they fit (a budget for the map's area); then at
    // most one more in each cell of a grid fixed to the world (about 13 x 6 letters at this
    // zoom), so that names spread over the whole map, the biggest of each part, and stay the
    // same while the map is dragged
    let named = 0;
    const big = Math.round((w * h) / (em * em * 220));
    const cells = new Set();
    const [cellW, cellH] = [em * 13, em * 6.5];
    const dot = Math.max(2, em * 0.2);
    const languages = o.languages && o.languages.length ? o.languages : [o.lang || "en"];
    for (const [x, y, town] of towns) {
      if (named >= MAX_TOWN_LABELS) break;
      const [wx, wy] = project(town.lat, town.lon);
      const cell = `${Math.floor((wx * s) / cellW)},${Math.floor((wy * s) / cellH)}`;
      if (named >= big && cells.has(cell)) continue;
      const name = townName(town, languages);
      const width = measure(name, townSize);
      const dotBox = boxAround(x, y, dot + 1);
      if (!space.free(dotBox)) continue;
      const spot = space.place(x, y, width, townSize * 1.2, dot + 3, false, 1, townSize * 0.5);
      if (!spot) continue;
      space.take(dotBox);
      const g = el("g", { class: "pmap-town", "data-name": town.name }, L.towns);
      el("circle", { cx: x, cy: y, r: dot, fill: TOWN_COLOUR }, g);
      this.label(spot.box, name, TOWN_COLOUR, townSize, "normal", "town", town.name);
      cells.add(cell);
      named += 1;
    }
  }

  unitMarker(layer, unit, x, y, r, fill, stroke, cls) {
    const g = el("g", { class: cls, "data-code": unit.code, tabindex: -1 }, layer);
    el("circle", { cx: x, cy: y, r, fill, stroke, "stroke-width": cls === "pmap-nearest" ? 2.5 : 1.5 }, g);
    if (this.options.onSelect) g.style.cursor = "pointer";
    this.selectable.set(g, { kind: cls === "pmap-unit" ? "unit" : "nearest", unit });
    return g;
  }

  label(box, text, colour, size, weight, kind, key) {
    const t = el(
      "text",
      {
        x: box.x0,
        y: box.y0 + size * 0.95,
        "font-size": size,
        "font-weight": weight,
        fill: colour,
        stroke: "#ffffff",
        "stroke-width": 3,
        "stroke-linejoin": "round",
        "paint-order": "stroke",
        class: `pmap-label pmap-label-${kind}`,
        "data-key": key,
      },
      kind === "town" ? this.layers.towns : this.layers.labels,
    );
    t.textContent = text;
    return t;
  }

  drawTiles(w, h) {
    const url = this.tilesUrl;
    if (!url) return;
    const tz = clamp(Math.round(this.view.zoom), 0, 19);
    const n = 2 ** tz;
    const size = 256 * 2 ** (this.view.zoom - tz);
    const [left, top] = [this.view.x * n - w / 2 / size, this.view.y * n - h / 2 / size];
    const [right, bottom] = [left + w / size, top + h / size];
    const subdomains = ["a", "b", "c"];
    for (let ty = Math.max(0, Math.floor(top)); ty <= Math.min(n - 1, Math.floor(bottom)); ty++) {
      for (let tx = Math.floor(left); tx <= Math.floor(right); tx++) {
        const wrapped = ((tx % n) + n) % n;
        const href = url
          .replaceAll("{z}", tz)
          .replaceAll("{x}", wrapped)
          .replaceAll("{y}", ty)
          .replaceAll("{s}", subdomains[(wrapped + ty) % 3]);
        el("image", { href, x: (tx - left) * size, y: (ty - top) * size, width: size + 0.5, height: size + 0.5, preserveAspectRatio: "none", class: "pmap-tile" }, this.layers.tiles);
      }
    }
  }

  // buttons, legend, scale bar, attribution; returns the boxes they cover
  drawChrome(w, h, em, measure) {
    const o = this.options;
    const layer = this.layers.chrome;
    const covered = [];
    const size = Math.max(28, Math.round(em * 2.2)); // a button, px (a finger's width)
    const pad = 8;
    const buttons = [
      ["zoom-in", "+", "Zoom in", () => this.zoomBy(1)],
      ["zoom-out", "−", "Zoom out", () => this.zoomBy(-1)],
      ["home", "⌂", "Whole view", () => this.home()],
    ];
    if (this.legendShown() !== null) {
      buttons.push(["legend-toggle", "?", "Legend", () => this.toggleLegend()]);
    }
    buttons.forEach(([name, glyph, msgid, act], i) => {
      const x = w - pad - size;
      const y = pad + i * (size + 4);
      const g = el("g", { class: `pmap-button pmap-${name}`, role: "button", tabindex: 0, "aria-label": say(o, msgid) }, layer);
      if (name === "legend-toggle") g.setAttribute("aria-pressed", String(this.legendShown()));
      titled(g, say(o, msgid));
      el("rect", { x, y, width: size, height: size, rx: 4, fill: "#ffffff", stroke: "#555555", "stroke-width": 1 }, g);
      el("text", { x: x + size / 2, y: y + size / 2, "text-anchor": "middle", "dominant-baseline": "central", "font-size": Math.round(size * 0.6), fill: "#1a1a1a" }, g).textContent = glyph;
      const run = (e) => {
        e.preventDefault();
        e.stopPropagation();
        act();
        // the buttons are drawn again: keep the keyboard on the same one
        const again = this.svg.querySelector(`.pmap-${name}`);
        if (again && e.type === "keydown") again.focus();
      };
      g.addEventListener("click", run);
      g.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") run(e);
      });
      covered.push({ x0: x - 2, y0: y - 2, x1: x + size + 2, y1: y + size + 2 });
    });

    // the attribution, bottom right
    const attribution = this.geo.attribution || "";
    if (attribution) {
      const tiny = Math.max(9, Math.round(em * 0.65));
      const width = measure(attribution, tiny);
      el("rect", { x: w - 8 - width, y: h - 6 - tiny, width: width + 8, height: tiny + 6, fill: "#ffffff", "fill-opacity": 0.8 }, layer);
      const text = el("text", { x: w - 4, y: h - 4, "text-anchor": "end", "font-size": tiny, fill: "#4a4a4a", class: "pmap-attribution" }, layer);
      text.textContent = attribution;
      covered.push({ x0: w - 8 - width, y0: h - 6 - tiny, x1: w, y1: h });
    }

    if (this.legendShown()) covered.push(this.drawLegend(w, h, em, measure, pad));
    return covered;
  }

  // the scale bar, bottom left; returns the box it covers
  drawScale(w, h, em, measure) {
    const o = this.options;
    const pad = 8;
    const center = unproject(this.view.x, this.view.y);
    const kmPerPx = 1 / (perKm(center[0]) * this.scale());
    const km = niceKm(kmPerPx * Math.min(120, w / 4));
    const bar = km / kmPerPx;
    const small = Math.max(10, Math.round(em * 0.8));
    const sx = pad;
    // above the attribution's band (a phone is too narrow for both on one line)
    const band = this.geo.attribution ? Math.max(9, Math.round(em * 0.65)) + 6 : 0;
    const sy = h - pad - band - small * 0.4;
    const scale = el("g", { class: "pmap-scale-bar" }, this.layers.scale);
    el("path", { d: `M${sx},${sy - 6}V${sy}H${sx + bar}V${sy - 6}`, fill: "none", stroke: "#1a1a1a", "stroke-width": 2 }, scale);
    const kmText = `${number(o, km)} km`;
    el("text", { x: sx + bar + 4, y: sy, "font-size": small, fill: "#1a1a1a" }, scale).textContent = kmText;
    return { x0: 0, y0: sy - small - 4, x1: sx + bar + 8 + measure(kmText, small), y1: sy + 4 };

  }

  // null: no legend at all; true/false: shown or not (the ? button)
  legendShown() {
    if (this.options.legend === false) return null;
    if (this.legendOpen === undefined) {
      const [w, h] = this.size();
      this.legendOpen = this.options.legend === true || (w >= 900 && h >= 500);
    }
    return this.legendOpen;
  }

  toggleLegend() {
    this.legendOpen = !this.legendShown();
    this.redraw(true);
  }

  // the legend's rows: each a list of [kind, words]
  legendRows() {
    const o = this.options;
    const ref = this.f.incident ? this.f.incident.ref : "";
    return [
      [["incident", say(o, "Incident #{ref}", { ref }).trim()]],
      [["committed", say(o, "Committed unit, coloured by its status")]],
      ["committed", "en_route", "on_scene"].map((status) => [status, statusWord(o, status)]),
      [["nearest", say(o, "Nearest available unit")]],
      [["site", say(o, "At-risk site and its planning radius")]],
      [["mark", say(o, "Located timeline entry, numbered as in the timeline")]],
      [["border", say(o, "France–Belgium border")], ["town", say(o, "Town")]],
    ];
  }

  legendLayout(em, measure) {
    const size = Math.max(11, Math.round(em * 0.85));
    const line = Math.round(size * 1.6);
    const r = Math.max(5, size * 0.4);
    const rows = this.legendRows().map((items) => {
      let x = 8;
      const placed = items.map(([kind, text]) => {
        const at = x;
        x += 2 * r + 6 + measure(text, size) + 14;
        return [kind, text, at];
      });
      return [placed, x - 14 + 8];
    });
    const width = Math.max(...rows.map(([, rowWidth]) => rowWidth));
    return { size, line, r, rows, width, height: rows.length * line + 8 };
  }

  drawLegend(w, h, em, measure, pad) {
    const o = this.options;
    const { size, line, r, rows, width, height } = this.legendLayout(em, measure);
    const x = pad;
    const y = pad;
    const g = el("g", { class: "pmap-legend", role: "list", "aria-label": say(o, "Legend") }, this.layers.chrome);
    el("rect", { x, y, width, height, rx: 4, fill: "#ffffff", "fill-opacity": 0.94, stroke: "#888888" }, g);
    rows.forEach(([items], i) => {
      const cy = y + 4 + line * (i + 0.5);
      for (const [kind, text, at] of items) {
        const cx = x + at + r;
        const item = el("g", { role: "listitem", class: `pmap-legend-${kind}` }, g);
        if (kind === "incident") el("path", { d: star(cx, cy, r * 1.4), fill: INCIDENT_COLOUR }, item);
        else if (STATUS_COLOUR[kind]) el("circle", { cx, cy, r, fill: STATUS_COLOUR[kind], stroke: "#ffffff" }, item);
        else if (kind === "nearest") el("circle", { cx, cy, r, fill: "#ffffff", stroke: NEAREST_COLOUR, "stroke-width": 2.5 }, item);
        else if (kind === "site") el("circle", { cx, cy, r, fill: SITE_COLOUR, "fill-opacity": 0.15, stroke: SITE_COLOUR, "stroke-dasharray": "3 2" }, item);
        else if (kind === "mark") el("circle", { cx, cy, r, fill: MARK_COLOUR }, item);
        else if (kind === "border") el("path", { d: `M${cx - r * 1.2},${cy}H${cx + r * 1.2}`, stroke: BORDER_COLOUR, "stroke-width": 2, "stroke-dasharray": "4 2 1 2" }, item);
        else el("circle", { cx, cy, r: 2.5, fill: TOWN_COLOUR }, item);
        const label = el("text", { x: cx + r + 6, y: cy, "dominant-baseline": "central", "font-size": size, fill: "#1a1a1a" }, item);
        label.textContent = text;
      }
    });
    return { x0: x - 2, y0: y - 2, x1: x + width + 2, y1: y + height + 2 };
  }
}

// --- shapes and numbers ----------------------------------------------------------------------

// A town's name in each of the readers' languages (Lille / Rijsel), once when they agree.
function townName(town, languages) {
  const names = [];
  for (const language of languages) {
    const name = (town.names && town.names[language]) || town.name;
    if (!names.includes(name)) names.push(name);
  }
  return names.join(" / ");
}

function clamp(value, low, high) {
  return Math.max(low, Math.min(high, value));
}

function boxAround(x, y, r) {
  return { x0: x - r, y0: y - r, x1: x + r, y1: y + r };
}

function triangle(x, y, r) {
  return `M${x},${y - r}L${x + r * 0.95},${y + r * 0.7}L${x - r * 0.95},${y + r * 0.7}Z`;
}

function star(x, y, r) {
  const points = [];
  for (let i = 0; i < 10; i++) {
    const a = (Math.PI / 5) * i - Math.PI / 2;
    const radius = i % 2 ? r * 0.45 : r;
    points.push(`${(x + radius * Math.cos(a)).toFixed(1)},${(y + radius * Math.sin(a)).toFixed(1)}`);
  }
  return `M${points.join("L")}Z`;
}

function niceKm(target) {
  for (const step of [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200]) {
    if (step >= target * 0.8) return step;
  }
  return 500;
}

// --- what BOARD-PAGE calls -------------------------------------------------------------------

// Draws the map in `svg` (replacing what it held) and returns it: {update(detail, options),
// zoomBy(steps), panBy(dx, dy), home(), getView(), setView({zoom}), at(lat, lon), destroy()}.
export function drawMap(svg, geo, detail, options = {}) {
  const old = views.get(svg);
  if (old) old.destroy();
  const map = new BoardMap(svg, geo, detail, options);
  views.set(svg, map);
  return map;
}

// New data for the map in `svg` (a change came live): drawn again where the reader is
// looking, at the zoom they chose. Returns the map, or null when none was drawn there.
export function updateMap(svg, detail, options) {
  const map = views.get(svg);
  if (!map) return null;
  map.update(detail, options);
  return map;
}

export function mapOf(svg) {
  return views.get(svg) || null;
}
