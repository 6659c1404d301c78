// The situation board's page (issue 14): the overview of the open incidents a person may see,
// and one incident's page, kept live by the server's event stream. Vanilla ES module, served by
// Passerelle itself: no CDN, no build step, no Telegram script from the internet.
//
// Credentials come in the URL fragment, as Telegram clients and the bot's links put them:
//   #tgWebAppData=<initData>   a Mini App or web_app button (Telegram adds it)
//   #token=<token>             the personal link /board sends for a command post's screen
//   #incident=<ref>            which incident to show (or start_param "i<ref>" in initData)
// They are exchanged once for a session cookie (POST api/session) and taken out of the address.

const API = new URL('api/', new URL('.', location.href.split('#')[0]));
const LOCALE = { en: 'en-GB', fr: 'fr-FR', nl: 'nl-BE' };
const LANGUAGES = ['fr', 'nl', 'en'];
const SESSION_KEY = 'passerelle.board.session';
// A command post's screen keeps its personal link in the browser (not in the address), so that
// the board opens again after a restart or when its session ends, until the link expires or
// `/board revoke` ends it.
const TOKEN_KEY = 'passerelle.board.token';

// The browser's storage, where it may be used: a webview or a private window that refuses it
// leaves the page working, only forgetful.
function storage(kind) {
  const get = () => {
    try {
      return window[kind];
    } catch {
      return null;
    }
  };
  return {
    getItem(key) {
      try { return get()?.getItem(key) ?? null; } catch { return null; }
    },
    setItem(key, value) {
      try { get()?.setItem(key, value); } catch { /* not kept */ }
    },
    removeItem(key) {
      try { get()?.removeItem(key); } catch { /* nothing kept */ }
    },
  };
}
const stored = { local: storage('localStorage'), session: storage('sessionStorage') };

const state = {
  person: null,        // {id, name, language}
  spoken: [],          // the person's languages (several: bilingual labels offered)
  shown: ['en'],       // the languages the page is read in; the first one for values
  first: null,         // the language before a session: Telegram's, else the browser's
  timezone: 'Europe/Brussels',
  strings: {},         // language -> {key: words}
  view: { kind: 'overview', ref: null },
  geo: null,
  incident: null,      // the incident page's last data
  overview: null,
  refused: false,
  live: null,
  retry: 0,
  redrawMap: false,
  renewed: false,      // a new session was asked for with the kept link (once in a row)
  missing: new Set(),  // words asked for that the server's table lacks (a test reads it)
};

// --- small helpers -------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function words(language, key, params) {
  const table = state.strings[language] || {};
  if (!(key in table) && Object.keys(table).length) state.missing.add(key);
  let text = table[key] ?? key;
  for (const [name, value] of Object.entries(params || {})) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

// One language's words (the first shown): for values, sentences, attributes.
function t(key, params) {
  return words(state.shown[0], key, params);
}

// A label: in each language shown, the second one beside the first when the reader's groups
// read several languages.
function label(key, params) {
  const [first, ...others] = state.shown;
  const main = words(first, key, params);
  const rest = others.map((language) => words(language, key, params)).filter((w) => w !== main);
  if (rest.length === 0) return h('span', { lang: first }, main);
  return h('span', { class: 'bilingual' },
    h('span', { lang: first }, main),
    ...rest.map((w, i) => h('span', { class: 'other', lang: others[i] }, w)));
}

// The words of a domain value ("severity", "severe"); a value the table does not know (a
// newer server's) reads as the server sent it.
function value(kind, raw) {
  if (raw === null || raw === undefined || raw === '') return '—';
  const table = state.strings[state.shown[0]] || {};
  return table[`${kind}:${raw}`] ?? String(raw);
}

function parseTime(iso) {
  if (!iso) return null;
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? null : moment;
}

function dayOf(moment) {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: state.timezone, year: 'numeric', month: '2-digit', day: '2-digit',
  }).format(moment);
}

// "14:05" today, "29 nov. 14:05" another day: times in [i18n] timezone, dates across midnight.
function when(iso) {
  const moment = parseTime(iso);
  if (!moment) return '—';
  const locale = LOCALE[state.shown[0]] || 'en-GB';
  const time = new Intl.DateTimeFormat(locale, {
    timeZone: state.timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).format(moment);
  if (dayOf(moment) === dayOf(new Date())) return time;
  const day = new Intl.DateTimeFormat(locale, {
    timeZone: state.timezone, day: 'numeric', month: 'short',
  }).format(moment);
  return `${day} ${time}`;
}

function timeEl(iso) {
  const moment = parseTime(iso);
  return moment ? h('time', { datetime: moment.toISOString() }, when(iso)) : '—';
}

function fullDay(moment) {
  return new Intl.DateTimeFormat(LOCALE[state.shown[0]] || 'en-GB', {
    timeZone: state.timezone, weekday: 'long', day: 'numeric', month: 'long', year: 'numeric',
  }).format(moment);
}

function count(raw) {
  if (Array.isArray(raw)) return raw.length;
  return Number(raw) || 0;
}

async function api(path, options) {
  const response = await fetch(new URL(path, API), {
    credentials: 'same-origin', headers: { Accept: 'application/json' }, ...options,
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, ok: response.ok, body };
}

// --- credentials and session ---------------------------------------------------------------

function readFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, '').replace(/\?/g, '&'));
  const found = {
    initData: params.get('tgWebAppData'),
    token: params.get('token'),
    incident: params.get('incident'),
  };
  const start = params.get('tgWebAppStartParam')
    || (found.initData && new URLSearchParams(found.initData).get('start_param'));
  if (!found.incident && start && /^i\d{1,9}$/.test(start)) found.incident = start.slice(1);
  if (found.incident && !/^\d{1,9}$/.test(found.incident)) found.incident = null;
  return found;
}

function viewFromFragment() {
  const { incident } = readFragment();
  return incident ? { kind: 'incident', ref: Number(incident) } : { kind: 'overview', ref: null };
}

function browserLanguage() {
  // the Telegram client's language, from its launch data, before the browser's own
  const { initData } = readFragment();
  if (initData) {
    try {
      const user = JSON.parse(new URLSearchParams(initData).get('user') || '{}');
      const language = String(user.language_code || '').slice(0, 2).toLowerCase();
      if (LANGUAGES.includes(language)) return language;
    } catch {
      // no user in it: the browser's languages
    }
  }
  for (const tag of navigator.languages || [navigator.language || 'en']) {
    const language = tag.slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(language)) return language;
  }
  return 'en';
}

async function loadStrings(languages) {
  await Promise.all(languages.filter((l) => !state.strings[l]).map(async (language) => {
    const answer = await api(`strings?lang=${encodeURIComponent(language)}`);
    state.strings[language] = (answer.ok && answer.body && answer.body.strings) || {};
  }));
}

function chooseLanguages() {
  const saved = stored.local.getItem('passerelle.board.languages');
  const wanted = saved ? saved.split(',').filter((l) => LANGUAGES.includes(l)) : [];
  if (wanted.length) return wanted;
  const own = state.person && LANGUAGES.includes(state.person.language)
    ? state.person.language : browserLanguage();
  const spoken = state.spoken.filter((l) => LANGUAGES.includes(l) && l !== own);
  return [own, ...spoken];
}

function postSession(body) {
  return api(`session?lang=${state.first}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
}

async function openSession() {
  const found = readFragment();
  const fresh = Boolean(found.initData || found.token);
  let answer = null;
  if (fresh) {
    answer = await postSession(found.initData ? { init_data: found.initData } : { token: found.token });
    // the credentials leave the address bar (and the history) once used
    history.replaceState(null, '', found.incident ? `#incident=${found.incident}` : '#');
    if (found.token && answer.ok) stored.local.setItem(TOKEN_KEY, found.token);
    if (found.initData) stored.local.removeItem(TOKEN_KEY);  // someone else's screen, maybe
  } else {
    let kept = null;
    try {
      kept = JSON.parse(stored.session.getItem(SESSION_KEY) || 'null');
    } catch {
      kept = null;  // not ours any more: asked again
    }
    const token = stored.local.getItem(TOKEN_KEY);
    if (kept) answer = { ok: true, body: kept };
    // no credentials: the server says why, in words it chooses; nothing else is asked
    else answer = await postSession(token ? { token } : {});
  }
  if (!answer.ok) return refuse(answer.body);
  stored.session.setItem(SESSION_KEY, JSON.stringify(answer.body));
  const session = answer.body || {};
  state.person = session.person || null;
  state.spoken = Array.isArray(session.languages) ? session.languages : [];
  if (session.timezone) state.timezone = session.timezone;
  // the Mini App link's start parameter (startapp=i<ref>), as the server read it
  if (fresh && state.view.kind === 'overview' && Number.isInteger(session.incident)) {
    state.view = { kind: 'incident', ref: session.incident };
    history.replaceState(null, '', `#incident=${session.incident}`);
  }
  state.shown = chooseLanguages();
  return true;
}

// A session that ended (its hours are over): a command post's screen opens a new one with its
// link, once; anything else is a refusal.
async function renew(body) {
  const token = stored.local.getItem(TOKEN_KEY);
  if (token && body && body.error === 'no_credentials' && !state.renewed) {
    state.renewed = true;
    const answer = await postSession({ token });
    if (answer.ok) return true;
    body = answer.body;
  }
  await refuse(body);
  return false;
}

async function refuse(body) {
  if (body && ['expired', 'revoked', 'forged', 'stranger'].includes(body.error)) {
    stored.local.removeItem(TOKEN_KEY);
  }
  state.refused = true;
  state.incident = null;
  state.overview = null;
  stored.session.removeItem(SESSION_KEY);
  stopLive();
  state.shown = [state.first || browserLanguage()];
  await loadStrings(state.shown);
  drawFrame();
  document.getElementById('overview').replaceChildren();
  document.getElementById('incident').replaceChildren();
  document.getElementById('overview').hidden = true;
  document.getElementById('incident').hidden = true;
  document.getElementById('live').hidden = true;
  const text = (body && body.message)
    || t('Open the board from Telegram: the Board button on an incident card, or /board in a private chat with the bot.');
  showMessage(text, 'refused');
  return false;
}

function showMessage(text, kind) {
  const box = document.getElementById('message');
  box.hidden = !text;
  box.className = `message ${kind || ''}`;
  box.setAttribute('role', kind === 'refused' || kind === 'error' ? 'alert' : 'status');
  box.textContent = text || '';
}

// --- the page's frame: languages, large type, the time zone ------------------------------

function drawFrame() {
  document.documentElement.lang = state.shown[0];
  document.title = `${t('Situation board')} · Passerelle`;
  for (const el of document.querySelectorAll('[data-t]')) {
    el.replaceChildren(label(el.dataset.t));
  }
  const box = document.getElementById('languages');
  box.setAttribute('aria-label', t('Language'));
  const choices = LANGUAGES.map((l) => [l]);
  const spoken = state.spoken.filter((l) => LANGUAGES.includes(l));
  if (spoken.length > 1) choices.unshift(spoken);
  box.replaceChildren(...choices.map((choice) => {
    const pressed = choice.join() === state.shown.join();
    return h('button', {
      type: 'button',
      lang: choice[0],
      'aria-pressed': pressed ? 'true' : 'false',
      'data-lang': choice.join(),
      onclick: () => switchLanguage(choice),
    }, choice.map((l) => l.toUpperCase()).join(' + '));
  }));
  const large = document.getElementById('large');
  large.setAttribute('aria-pressed', document.documentElement.classList.contains('large'));
  let zone = state.timezone;
  try {
    const parts = new Intl.DateTimeFormat(LOCALE[state.shown[0]] || 'en-GB', {
      timeZone: state.timezone, timeZoneName: 'long',
    }).formatToParts(new Date());
    zone = `${parts.find((p) => p.type === 'timeZoneName')?.value || zone} (${state.timezone})`;
  } catch {
    // an unknown zone: its name as given
  }
  document.getElementById('zone').textContent = t('Times in {zone}', { zone });
}

async function switchLanguage(languages) {
  state.shown = languages;
  stored.local.setItem('passerelle.board.languages', languages.join(','));
  await loadStrings(languages);
  drawFrame();
  if (state.refused) return;
  // the labels at once; then the texts (timeline, alerts, phases) in that language
  if (state.view.kind === 'incident' && state.incident) drawIncident(state.incident, true);
  else if (state.overview) drawOverview(state.overview);
  state.redrawMap = true;
  await load();
}

function toggleLarge() {
  const on = document.documentElement.classList.toggle('large');
  stored.local.setItem('passerelle.board.large', on ? '1' : '');
  document.getElementById('large').setAttribute('aria-pressed', on ? 'true' : 'false');
  if (state.view.kind === 'incident' && state.incident) drawIncident(state.incident, true);
}

// --- the overview --------------------------------------------------------------------------

function badge(kind, raw, extra) {
  if (raw === null || raw === undefined || raw === '') return null;
  return h('span', { class: `badge ${kind}-${raw} ${extra || ''}` }, value(kind, raw));
}

function phasesOf(phases) {
  if (!Array.isArray(phases) || phases.length === 0) return null;
  return h('ul', { class: 'phases' }, phases.map((p) =>
    h('li', {}, h('abbr', { title: p.country }, p.country), ' ', p.label || p.level)));
}

function drawOverview(data) {
  const section = document.getElementById('overview');
  const incidents = (data && data.incidents) || [];
  const items = incidents.map((i) => {
    const counts = i.counts || {};
    return h('li', { class: `summary severity-${i.severity}` },
      h('a', { href: `#incident=${i.ref}`, class: 'open' },
        h('span', { class: 'ref' }, `#${i.ref}`), ' ', h('span', { class: 'title' }, i.title)),
      h('p', { class: 'badges' },
        badge('status', i.status), ' ', badge('severity', i.severity),
        i.exercise ? [' ', h('span', { class: 'badge exercise' }, t('exercise'))] : null,
        i.country ? [' ', h('span', { class: 'badge country' }, i.country)] : null),
      phasesOf(i.phases),
      h('dl', { class: 'counts' },
        ['Units', 'Requests', 'Alerts', 'Entries', 'Media'].map((name) =>
          h('div', {}, h('dt', {}, label(name)), h('dd', {}, count(counts[name.toLowerCase()]))))),
      h('p', { class: 'updated' }, label('Updated'), ' ', timeEl(i.updated_at)));
  });
  section.replaceChildren(
    h('h2', {}, label('Open incidents')),
    items.length ? h('ul', { class: 'incidents' }, items)
      : h('p', { class: 'none' }, t('No open incident that you may see.')));
}

// --- one incident --------------------------------------------------------------------------

function fact(name, content) {
  return h('div', { class: 'fact' }, h('dt', {}, label(name)), h('dd', {}, content ?? '—'));
}

function personName(person) {
  if (!person) return null;
  if (typeof person === 'string') return person;
  return person.name || person.username || null;
}

function table(caption, heads, rows, cls) {
  if (!rows.length) return h('p', { class: 'none' }, t('none'));
  return h('div', { class: 'wrap' }, h('table', { class: cls || '' },
    caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
    h('thead', {}, h('tr', {}, heads.map((head) => h('th', { scope: 'col' }, label(head))))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell, i) =>
      h('td', { 'data-label': t(heads[i]) }, cell)))))));
}

function section(id, name, ...content) {
  return h('section', { id, 'aria-labelledby': `${id}-h` },
    h('h3', { id: `${id}-h` }, label(name)), ...content);
}

function unitRows(units) {
  return units.map((u) => {
    const path = u.path || {};
    return [
      h('span', {}, h('strong', {}, u.code), u.name ? [' ', h('span', { class: 'name' }, u.name)] : null),
      [u.agency || '—', u.country ? ` (${u.country})` : ''],
      badge('offer', u.status),
      u.eta_minutes === null || u.eta_minutes === undefined || path.on_scene ? '—'
        : [t('{minutes} min', { minutes: Math.round(u.eta_minutes) }),
          u.arrival ? [' (', timeEl(u.arrival), ')'] : null],
      timeEl(path.committed), timeEl(path.en_route), timeEl(path.on_scene), timeEl(path.released),
    ];
  });
}

function requestItem(r) {
  const units = Array.isArray(r.units) ? r.units : [];
  const quantity = r.quantity ?? null;
  return h('li', { class: 'request' },
    h('p', {},
      h('strong', {}, quantity ? `${quantity} × ` : '', value('type', r.type)), ' ',
      badge('request', r.status), ' ',
      quantity !== null && r.committed !== undefined
        ? h('span', { class: 'tally' }, t('{committed} of {quantity} committed',
          { committed: r.committed, quantity })) : null),
    h('p', { class: 'meta' }, label('Requested'), ' ', timeEl(r.requested_at || r.created_at),
      r.requested_by ? [' · ', r.requested_by] : null,
      r.note ? [' — ', h('q', {}, r.note)] : null),
    units.length ? h('ul', { class: 'request-units' }, units.map((u) =>
      h('li', {}, typeof u === 'string' ? u : [h('strong', {}, u.code), ' ',
        u.status ? badge('offer', u.status) : null]))) : null);
}

function alertItem(a) {
  const acked = count(a.acked);
  const chats = count(a.chats);
  return h('li', { class: `alert severity-${a.severity}` },
    h('p', {}, badge('severity', a.severity), ' ', timeEl(a.sent_at), ' ',
      h('span', { class: 'tally' }, t('{acked} of {chats} groups acknowledged', { acked, chats }))),
    h('p', { class: 'text' }, a.text || ''),
    Array.isArray(a.targets) && a.targets.length ? h('ul', { class: 'targets' }, a.targets.map(
      (g) => h('li', { class: g.acked_at ? 'acked' : 'waiting' },
        h('span', { 'aria-hidden': 'true' }, g.acked_at ? '✓ ' : '… '), g.chat || '',
        g.acked_at ? [' ', timeEl(g.acked_at)] : null))) : null);
}

function timelineItems(entries) {
  const out = [];
  let day = null;
  for (const e of entries) {
    const moment = parseTime(e.at);
    const thisDay = moment ? dayOf(moment) : null;
    if (moment && thisDay !== day) {
      day = thisDay;
      out.push(h('li', { class: 'day' }, h('h4', {}, fullDay(moment))));
    }
    const media = Array.isArray(e.media) ? e.media : [];
    out.push(h('li', { class: `entry kind-${e.kind}`, id: `entry-${e.n}` },
      h('p', { class: 'meta' },
        h('span', { class: 'n' }, `${e.n}`), ' ', timeEl(e.at),
        e.author ? [' · ', h('span', { class: 'author' }, e.author)] : null),
      e.text ? h('p', { class: 'text' }, e.text) : null,
      media.length ? h('ul', { class: 'media' }, media.map((m) => h('li', {},
        m.thumbnail_url
          ? h('img', { src: m.thumbnail_url, alt: m.caption || t('Photo from the field'), loading: 'lazy' })
          : h('span', { class: 'badge' }, value('media', m.kind)),
        m.caption ? h('span', { class: 'caption' }, ' ', m.caption) : null))) : null));
  }
  return out;
}

let mapModule = null;

async function drawMapInto(svg, data, redraw) {
  try {
    if (!mapModule) mapModule = await import('./map.js');
    if (!state.geo) {
      const answer = await api('geo');
      state.geo = answer.ok ? answer.body : { border: [], towns: [], tiles_url: '' };
    }
    const options = { t, label, lang: state.shown[0], languages: state.shown, timezone: state.timezone, when };
    if (!redraw && typeof mapModule.updateMap === 'function' && svg.dataset.drawn) {
      mapModule.updateMap(svg, data, options);
    } else {
      mapModule.drawMap(svg, state.geo, data, options);
      svg.dataset.drawn = '1';
    }
  } catch (error) {
    svg.closest('figure')?.classList.add('no-map');
    console.warn('map', error);
  }
}

function drawIncident(data, redraw) {
  const article = document.getElementById('incident');
  const i = data.incident || {};
  const units = data.units || [];
  const nearest = data.nearest || [];
  const timeline = data.timeline || [];
  const phases = phasesOf(i.phases);
  let svg = article.querySelector('svg.map');
  const keepMap = svg && !redraw;
  if (!keepMap) {
    svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'map');
    svg.setAttribute('role', 'img');
    svg.setAttribute('tabindex', '0');
    svg.setAttribute('aria-label', `${t('Map')} — ${i.title || ''}`);  // map.js says more
  }
  const figure = keepMap ? svg.closest('figure') : h('figure', { class: 'mapbox' }, svg);
  const parts = [
    h('p', { class: 'back' }, h('a', { href: '#' }, '← ', label('All incidents'))),
    h('header', { class: `head severity-${i.severity}` },
      h('h2', {}, h('span', { class: 'ref' }, t('Incident #{ref}', { ref: i.ref })), ' ',
        h('span', { class: 'title' }, i.title || '')),
      h('p', { class: 'badges' }, badge('status', i.status), ' ', badge('severity', i.severity),
        i.exercise ? [' ', h('span', { class: 'badge exercise' }, t('exercise'))] : null)),
    h('dl', { class: 'facts' },
      fact('Location', i.location_text),
      fact('Commander', personName(i.commander)),
      fact('Spokesperson', personName(i.spokesperson)),
      i.liaison ? fact('Liaison officer', personName(i.liaison)) : null,
      fact('Declared', timeEl(i.declared_at)),
      fact('Updated', timeEl(i.updated_at)),
      phases ? fact('Phase', phases) : null),
    section('map', 'Map', figure),
    section('units', 'Committed units', table(t('Committed units'),
      ['Unit', 'Agency', 'Status', 'Estimated arrival', 'Committed', 'En route', 'On scene', 'Released'],
      unitRows(units), 'units')),
    section('nearest', 'Nearest available units', table(t('Nearest available units'),
      ['Unit', 'Agency', 'Distance'],
      nearest.map((u) => [h('span', {}, h('strong', {}, u.code), u.name ? ` ${u.name}` : ''),
        [u.agency || '—', u.country ? ` (${u.country})` : ''],
        t('{km} km', { km: Number(u.distance_km ?? 0).toFixed(1) })]), 'nearest')),
    section('requests', 'Resource requests', (data.requests || []).length
      ? h('ul', { class: 'requests' }, data.requests.map(requestItem))
      : h('p', { class: 'none' }, t('none'))),
    section('alerts', 'Alerts', (data.alerts || []).length
      ? h('ul', { class: 'alerts' }, data.alerts.map(alertItem))
      : h('p', { class: 'none' }, t('none'))),
    section('statements', 'Media statements', (data.statements || []).length
      ? h('ul', { class: 'statements' }, data.statements.map((s) => h('li', {},
        h('p', { class: 'meta' }, timeEl(s.published_at)), h('p', { class: 'text' }, s.text || ''))))
      : h('p', { class: 'none' }, t('none'))),
    section('sites', 'Sites at risk', (data.sites || []).length
      ? h('ul', { class: 'sites' }, data.sites.map((s) => h('li', {},
        h('strong', {}, s.name), ' — ', t('planning radius {km} km', { km: s.radius_km }),
        (s.hazards || []).length ? [' — ', s.hazards.map((z) => value('hazard', z)).join(', ')] : null)))
      : h('p', { class: 'none' }, t('none'))),
    section('timeline', 'Timeline', timeline.length
      ? h('ol', { class: 'timeline', reversed: true }, timelineItems(timeline))
      : h('p', { class: 'none' }, t('none'))),
  ];
  article.replaceChildren(...parts);
  drawMapInto(svg, data, !keepMap);
}

// --- loading and the live stream -----------------------------------------------------------

let loading = null;
let again = false;

async function load() {
  if (state.refused) return;
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    do {
      again = false;
      await loadView();
    } while (again);
  })();
  try {
    await loading;
  } finally {
    loading = null;
  }
}

// What a view reads, its texts (timeline, alerts) in the language read first.
function viewPath(view) {
  const lang = `lang=${encodeURIComponent(state.shown[0])}`;
  return view.kind === 'incident' ? `incidents/${view.ref}?${lang}` : `incidents?${lang}`;
}

async function loadView() {
  const view = state.view;
  const overview = document.getElementById('overview');
  const article = document.getElementById('incident');
  let answer;
  try {
    answer = await api(viewPath(view));
  } catch {
    showMessage(t('The board could not be loaded. It will try again.'), 'error');
    return;
  }
  if (view !== state.view) return;  // the reader went elsewhere meanwhile
  if (answer.status === 401 || answer.status === 403) {
    if (await renew(answer.body)) again = true;
    return;
  }
  state.renewed = false;
  if (view.kind === 'incident' && answer.status === 404) {
    state.incident = null;
    article.replaceChildren(h('p', { class: 'back' }, h('a', { href: '#' }, '← ', label('All incidents'))));
    article.hidden = false;
    overview.hidden = true;
    showMessage(t('This incident does not exist, or you may not see it.'), 'error');
    return;
  }
  if (!answer.ok || !answer.body) {
    showMessage(t('The board could not be loaded. It will try again.'), 'error');
    return;
  }
  showMessage('');
  if (view.kind === 'incident') {
    const first = !state.incident || state.incident.incident?.ref !== view.ref || state.redrawMap;
    state.redrawMap = false;
    state.incident = answer.body;
    overview.hidden = true;
    article.hidden = false;
    drawIncident(answer.body, first);
  } else {
    state.overview = answer.body;
    state.incident = null;
    article.hidden = true;
    article.replaceChildren();
    overview.hidden = false;
    drawOverview(answer.body);
  }
}

function setLive(on) {
  const box = document.getElementById('live');
  box.hidden = false;
  box.className = `live ${on ? 'on' : 'off'}`;
  box.replaceChildren(label(on ? 'Live' : 'Reconnecting…'));
}

function stopLive() {
  if (state.live) state.live.close();
  state.live = null;
}

function startLive() {
  if (state.refused || typeof EventSource === 'undefined') return;
  stopLive();
  const source = new EventSource(new URL('events', API), { withCredentials: true });
  state.live = source;
  let reconnected = state.retry > 0;
  source.addEventListener('open', () => {
    state.retry = 0;
    setLive(true);
    if (reconnected) {  // what changed while the stream was down
      reconnected = false;
      load();
    }
  });
  source.addEventListener('change', (event) => {
    let change = {};
    try {
      change = JSON.parse(event.data);
    } catch {
      return;
    }
    const shown = state.incident && state.incident.version;
    if (state.view.kind === 'overview') load();
    else if (Number(change.ref) === state.view.ref && change.version !== shown) load();
  });
  source.addEventListener('resync', () => load());
  source.addEventListener('error', () => {
    if (source !== state.live) return;
    source.close();
    state.live = null;
    setLive(false);
    // a session that ended is a refusal, not a network cut
    api(viewPath(state.view))
      .then((answer) => {
        if (answer.status === 401 || answer.status === 403) renew(answer.body).then((ok) => ok && load());
      })
      .catch(() => {});
    const delay = Math.min(15000, 500 * 2 ** state.retry) * (0.75 + Math.random() / 2);
    state.retry += 1;
    setTimeout(() => { if (!state.refused && !state.live) startLive(); }, delay);
  });
}

// --- start ---------------------------------------------------------------------------------

// Inside Telegram, say the page is ready and take the whole height: the two events of
// Telegram's Mini App protocol, posted as its own script would post them (not loaded).
function telegramReady() {
  for (const [name, data] of [['web_app_ready', {}], ['web_app_expand', {}]]) {
    try {
      if (window.TelegramWebviewProxy) {
        window.TelegramWebviewProxy.postEvent(name, JSON.stringify(data));
      } else if (window.external && 'notify' in window.external) {
        window.external.notify(JSON.stringify({ eventType: name, eventData: data }));
      } else if (window.parent !== window) {
        window.parent.postMessage(JSON.stringify({ eventType: name, eventData: data }), '*');
      }
    } catch {
      // not in Telegram
    }
  }
}

async function start() {
  if (stored.local.getItem('passerelle.board.large')) {
    document.documentElement.classList.add('large');
  }
  document.getElementById('large').addEventListener('click', toggleLarge);
  state.view = viewFromFragment();
  if (readFragment().initData) telegramReady();
  state.first = browserLanguage();
  state.shown = [state.first];
  await loadStrings(state.shown);
  drawFrame();
  if (!(await openSession())) return;
  await loadStrings(state.shown);
  drawFrame();
  await load();
  startLive();
  window.addEventListener('hashchange', () => {
    const view = viewFromFragment();
    if (view.kind === state.view.kind && view.ref === state.view.ref) return;
    state.view = view;
    document.getElementById('main').focus();
    load();
  });
  document.addEventListener('keydown', (event) => {
    if (event.target.closest && event.target.closest('input, textarea, svg')) return;
    if (event.key === 'Escape' && state.view.kind === 'incident') location.hash = '#';
  });
}

window.passerelleBoard = state;  // for the tests and for a curious operator: no secrets in it
start();
