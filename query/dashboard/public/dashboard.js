// spor's built-in dashboard: plain browser JavaScript, charts drawn as inline SVG (no CDN, no
// build step). Reads the statistics API with the API key the user enters (kept in localStorage,
// or passed once as #key=… in the URL fragment, which never reaches the server).
const $ = (id) => document.getElementById(id)
const SVG = 'http://www.w3.org/2000/svg'
const BREAKDOWNS = ['module', 'browser', 'os', 'device_type', 'country', 'hour', 'weekday']

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  if (text !== undefined) node.textContent = text
  return node
}

function niceMax(value) {
  if (value <= 0) return 1
  const step = 10 ** Math.floor(Math.log10(value))
  return Math.ceil(value / step) * step
}

function empty(target, message) {
  target.replaceChildren()
  const p = document.createElement('p')
  p.className = 'empty'
  p.textContent = message
  target.append(p)
}

/** Line chart of {t, value} points; suppressed points leave a gap. */
function lineChart(target, points, label) {
  const shown = points.filter((p) => p.value !== null)
  if (shown.length === 0) return empty(target, 'no data (or every point below k)')
  const width = 760
  const height = 220
  const pad = { left: 48, right: 12, top: 10, bottom: 28 }
  const max = niceMax(Math.max(...shown.map((p) => p.value)))
  const x = (i) =>
    pad.left + (points.length === 1 ? 0 : (i * (width - pad.left - pad.right)) / (points.length - 1))
  const y = (v) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom)
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': label,
    class: 'line-chart',
  })
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4
    svg.append(el('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), stroke: '#e3e6ea' }))
    svg.append(
      el(
        'text',
        { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#666' },
        Math.round(v),
      ),
    )
  }
  let d = ''
  points.forEach((p, i) => {
    if (p.value === null) return
    d += `${d && points[i - 1]?.value !== null ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.value).toFixed(1)} `
  })
  svg.append(el('path', { d, fill: 'none', stroke: '#2f6fdf', 'stroke-width': 2, class: 'series' }))
  points.forEach((p, i) => {
    if (p.value !== null) svg.append(el('circle', { cx: x(i), cy: y(p.value), r: 3, fill: '#2f6fdf' }))
  })
  const every = Math.max(1, Math.ceil(points.length / 8))
  points.forEach((p, i) => {
    if (i % every === 0)
      svg.append(
        el(
          'text',
          { x: x(i), y: height - 8, 'text-anchor': 'middle', 'font-size': 11, fill: '#666' },
          p.t.slice(5, 10),
        ),
      )
  })
  target.replaceChildren(svg)
}

/** Horizontal bars of breakdown groups (distinct users), "other" last. */
function barChart(target, groups, other, label) {
  const rows = [...groups]
  if (other) rows.push({ key: 'other', users: other.users })
  if (rows.length === 0) return empty(target, 'no group with enough users')
  const width = 380
  const barHeight = 20
  const height = rows.length * (barHeight + 6) + 6
  const max = Math.max(...rows.map((r) => r.users))
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': label,
    class: 'bar-chart',
  })
  rows.forEach((r, i) => {
    const y = 6 + i * (barHeight + 6)
    const w = Math.max(2, (r.users / max) * (width - 170))
    svg.append(el('text', { x: 110, y: y + 14, 'text-anchor': 'end', 'font-size': 12 }, r.key.slice(0, 18)))
    svg.append(
      el('rect', {
        x: 116,
        y,
        width: w,
        height: barHeight,
        fill: r.key === 'other' ? '#b8bec8' : '#3aa17e',
        class: 'bar',
      }),
    )
    svg.append(el('text', { x: 120 + w, y: y + 14, 'font-size': 12, fill: '#333' }, String(r.users)))
  })
  target.replaceChildren(svg)
}

function tile(label, value) {
  const div = document.createElement('div')
  div.className = 'tile'
  const b = document.createElement('b')
  b.textContent = value === null || value === undefined ? '—' : String(value)
  div.append(b, label)
  return div
}

async function api(path, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== undefined))
  const response = await fetch(`/v1/${path}?${query}`, {
    headers: { authorization: `Bearer ${$('key').value.trim()}` },
  })
  const body = await response.json()
  if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`)
  return body
}

async function loadTenants(params) {
  try {
    const body = await api('stats/breakdown', { ...params, tenant: '', by: 'tenant', limit: 100 })
    const select = $('tenant')
    const current = select.value
    select.replaceChildren(new Option('all tenants', ''), ...body.groups.map((g) => new Option(g.key, g.key)))
    select.value = current
    barChart($('chart-tenant'), body.groups, body.other, 'tenants')
  } catch {
    // A tenant-scoped key cannot compare tenants: it sees only its own.
    $('tenants-figure').hidden = true
    $('tenant').disabled = true
  }
}

/** Segment sizes of the range's last day with profiles (the API serves at most 90 days). */
async function loadSegments(params) {
  const target = $('chart-segments')
  try {
    const to = params.to || new Date().toISOString().slice(0, 10)
    const earliest = Date.parse(to) - 89 * 86_400_000
    const from =
      params.from && Date.parse(params.from) > earliest
        ? params.from
        : new Date(earliest).toISOString().slice(0, 10)
    const body = await api('segments/sizes', { tenant: params.tenant, from, to })
    const last = body.days.filter((d) => d.segments.length > 0).at(-1)
    $('segments-day').textContent = last ? last.day : 'the last profiled day'
    if (!last) return empty(target, 'no segment with enough users in this range')
    const groups = [...last.segments]
      .sort((a, b) => b.users - a.users)
      .map((s) => ({ key: s.segment, users: s.users }))
    barChart(target, groups, undefined, 'segments')
  } catch (error) {
    // The other charts stay useful when segments cannot be shown.
    empty(target, `segments unavailable: ${error.message}`)
  }
}

async function refresh() {
  const params = { from: $('from').value, to: $('to').value, tenant: $('tenant').value }
  $('status').textContent = 'loading…'
  document.body.dataset.state = 'loading'
  try {
    localStorage.setItem('spor.key', $('key').value.trim())
    await loadTenants(params)
    const [summary, users, events, ...breakdowns] = await Promise.all([
      api('stats/summary', params),
      api('stats/timeseries', { ...params, metric: 'users', interval: $('interval').value }),
      api('stats/timeseries', { ...params, metric: 'events', interval: $('interval').value }),
      ...BREAKDOWNS.map((by) => api('stats/breakdown', { ...params, by, limit: 12 })),
    ])
    $('k').textContent = summary.k
    $('tiles').replaceChildren(
      tile('distinct users', summary.users),
      tile('events', summary.events),
      tile('sessions', summary.sessions),
      tile(
        'median session (min)',
        summary.medianSessionSeconds === null ? null : (summary.medianSessionSeconds / 60).toFixed(1),
      ),
      tile('logins', summary.logins),
      tile('failed logins', summary.loginFailures),
    )
    lineChart($('chart-users'), users.points, 'active users')
    lineChart($('chart-events'), events.points, 'events')
    for (const [i, by] of BREAKDOWNS.entries())
      barChart($(`chart-${by}`), breakdowns[i].groups, breakdowns[i].other, by)
    await loadSegments(params)
    $('status').textContent = `${summary.range.from} – ${summary.range.to}`
    document.body.dataset.state = 'ready'
  } catch (error) {
    $('status').textContent = `error: ${error.message}`
    document.body.dataset.state = 'error'
  }
}

function init() {
  const fragment = new URLSearchParams(location.hash.slice(1))
  if (fragment.get('key')) {
    localStorage.setItem('spor.key', fragment.get('key'))
    history.replaceState(null, '', location.pathname)
  }
  $('key').value = localStorage.getItem('spor.key') ?? ''
  const today = new Date()
  $('to').value = fragment.get('to') ?? today.toISOString().slice(0, 10)
  $('from').value =
    fragment.get('from') ?? new Date(today.getTime() - 29 * 86_400_000).toISOString().slice(0, 10)
  $('controls').addEventListener('submit', (event) => {
    event.preventDefault()
    refresh()
  })
  if ($('key').value) refresh()
  else $('status').textContent = 'enter an API key (spor keys create --kind api …)'
}

init()
