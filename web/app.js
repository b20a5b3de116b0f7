/*
 * runbookd's web page: incidents, one incident's timeline and chart,
 * acknowledge / unacknowledge / resolve / comment, silences.  Everything
 * goes through the HTTP API with the user's token (docs/web.md).
 *
 * Every value shown comes from the network (alert labels, annotations,
 * comments), so the DOM is built with createElement and textContent only:
 * nothing is ever parsed as HTML.
 *
 * Routes (the part after #):
 *   /incidents?state=&severity=&alertname=   the list (the default)
 *   /incidents/{id}                          one incident
 *   /incidents/{id}/ack                      the same with a confirm button
 *                                            (opening it acknowledges nothing)
 *   /silences                                silences, expire
 *   /stats                                   statistics (GET /api/v1/stats)
 */
'use strict';

(function () {
  var TOKEN_KEY = 'runbookd.token';
  var ACTOR_KEY = 'runbookd.actor';
  var SEVERITIES = ['emergency', 'critical', 'high', 'medium', 'low'];
  var STATES = [['open', 'open (not resolved)'], ['unacked', 'open, not acknowledged'],
    ['acked', 'acknowledged'], ['resolved', 'resolved'], ['all', 'all']];
  var DURATIONS = [['30m', '30 minutes'], ['1h', '1 hour'], ['2h', '2 hours'], ['4h', '4 hours'],
    ['8h', '8 hours'], ['24h', '1 day'], ['72h', '3 days'], ['168h', '1 week']];
  var SVGNS = 'http://www.w3.org/2000/svg';

  var main, statusEl, errorEl;
  var pendingMsg = null; /* said once the next navigation has happened */
  var generation = 0;   /* bumped by each navigation: late answers are dropped */
  var refreshTimer = null;

  /* ------------------------------------------------------------ DOM */

  function append(el, kids) {
    if (!Array.isArray(kids)) kids = [kids];
    for (var i = 0; i < kids.length; i++) {
      var k = kids[i];
      if (k === null || k === undefined || k === false) continue;
      if (Array.isArray(k)) append(el, k);
      else if (typeof k === 'object' && k.nodeType) el.appendChild(k);
      else el.appendChild(document.createTextNode(String(k)));
    }
    return el;
  }

  function setAttrs(el, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (name) {
      var v = attrs[name];
      if (v === null || v === undefined || v === false) return;
      if (name.slice(0, 2) === 'on' && typeof v === 'function') el.addEventListener(name.slice(2), v);
      else if (name === 'text') el.textContent = String(v);
      else if (v === true) el.setAttribute(name, '');
      else el.setAttribute(name, String(v));
    });
  }

  /* h('a', {href: '#/x', class: 'y'}, 'text', child, [more]) */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    return append(el, Array.prototype.slice.call(arguments, 2));
  }

  function s(tag, attrs) {
    var el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    return append(el, Array.prototype.slice.call(arguments, 2));
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  var uid = 0;
  function nextId(prefix) { uid += 1; return prefix + '-' + uid; }

  /* ------------------------------------------------------------ storage */

  function store(kind) {
    try { return kind === 'session' ? window.sessionStorage : window.localStorage; } catch (e) { return null; }
  }
  function getToken() { var st = store('session'); return (st && st.getItem(TOKEN_KEY)) || ''; }
  function setToken(t) {
    var st = store('session');
    if (!st) return;
    if (t) st.setItem(TOKEN_KEY, t); else st.removeItem(TOKEN_KEY);
  }
  function getActor() { var st = store('local'); return (st && st.getItem(ACTOR_KEY)) || ''; }
  function setActor(a) {
    var st = store('local');
    if (!st) return;
    if (a) st.setItem(ACTOR_KEY, a); else st.removeItem(ACTOR_KEY);
  }

  /* ------------------------------------------------------------ messages */

  function say(msg) { errorEl.textContent = ''; statusEl.textContent = msg; }
  function clearMessages() { statusEl.textContent = ''; errorEl.textContent = ''; }

  function complain(err) {
    statusEl.textContent = '';
    errorEl.textContent = describe(err);
    if (err && err.status === 401) {
      var d = document.getElementById('auth');
      if (d) d.open = true;
    }
  }

  function describe(err) {
    if (!err) return 'Something went wrong.';
    if (!(err instanceof ApiError)) return 'Error: ' + (err.message || String(err));
    switch (err.status) {
      case 0: return 'runbookd did not answer (' + err.message + '). Is it running?';
      case 401: return 'Not authorized (401): ' + err.message +
        '. Paste an API token under “API token” at the top of the page.';
      case 403: return 'Forbidden (403): ' + err.message +
        '. The token you use does not allow this; ask for one with a larger role.';
      case 404: return 'Not found (404): ' + err.message + '.';
      case 409: return 'Refused (409): ' + err.message + '.';
      default: return 'Error ' + err.status + ': ' + err.message;
    }
  }

  /* ------------------------------------------------------------ API */

  function ApiError(status, message) {
    this.status = status;
    this.message = message;
  }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.constructor = ApiError;

  function api(method, path, body) {
    var headers = { Accept: 'application/json' };
    var token = getToken();
    var init = { method: method, headers: headers, credentials: 'same-origin', cache: 'no-store' };
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var data = text;
        try { data = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
        if (!res.ok) {
          var msg = '';
          if (data && typeof data === 'object') msg = data.error || data.message || '';
          else if (typeof data === 'string') msg = data;
          throw new ApiError(res.status, String(msg || res.statusText || 'request failed').trim());
        }
        return data;
      });
    }, function (e) {
      throw new ApiError(0, e && e.message ? e.message : 'network error');
    });
  }

  function enc(v) { return encodeURIComponent(v); }

  /* ------------------------------------------------------------ time */

  /* Milliseconds since the epoch of an RFC 3339 time (nanoseconds allowed),
   * or null for missing and Go's zero time. */
  function ms(t) {
    if (!t || typeof t !== 'string') return null;
    var norm = t.replace(/(\.\d{3})\d+/, '$1');
    var v = Date.parse(norm);
    if (isNaN(v) || v < 86400000) return null;
    return v;
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function fmtTime(v, withDate) {
    if (v === null) return '—';
    var d = new Date(v);
    var time = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    if (withDate === false) return time;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + time;
  }

  function timeEl(iso) {
    var v = ms(iso);
    if (v === null) return h('span', null, '—');
    return h('time', { datetime: new Date(v).toISOString(), title: new Date(v).toISOString() }, fmtTime(v));
  }

  function fmtDuration(d) {
    if (d < 0) d = 0;
    var sec = Math.floor(d / 1000);
    if (sec < 60) return sec + 's';
    var min = Math.floor(sec / 60);
    if (min < 60) return min + 'm ' + pad(sec % 60) + 's';
    var hr = Math.floor(min / 60);
    if (hr < 48) return hr + 'h ' + pad(min % 60) + 'm';
    return Math.floor(hr / 24) + 'd ' + (hr % 24) + 'h';
  }

  function parseDuration(txt) {
    var m = /^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$/.exec(txt || '');
    if (!m) return null;
    var n = parseFloat(m[1]);
    return n * (m[2] === 'm' ? 60000 : m[2] === 'h' ? 3600000 : 86400000);
  }

  /* ------------------------------------------------------------ pieces */

  function sevBadge(sev) {
    var known = SEVERITIES.indexOf(sev) >= 0;
    return h('span', { class: 'sev' + (known ? ' sev-' + sev : '') }, sev || 'unknown');
  }

  function stateBadge(state) {
    return h('span', { class: 'state state-' + String(state || '').replace(/[^a-z]/g, '') }, state || '—');
  }

  function isHttpUrl(v) { return typeof v === 'string' && /^https?:\/\/[^\s]+$/i.test(v); }

  /* A readable rendering of a JSON value (an event's detail). */
  function renderValue(v, depth) {
    depth = depth || 0;
    if (v === null || v === undefined) return h('span', { class: 'hint' }, '—');
    if (typeof v === 'string') {
      if (!v) return h('span', { class: 'hint' }, '—');
      if (v.indexOf('\n') >= 0 || v.length > 160) return h('pre', null, v);
      if (isHttpUrl(v)) return h('a', { href: v, rel: 'noopener noreferrer' }, v);
      return document.createTextNode(v);
    }
    if (typeof v !== 'object') return document.createTextNode(String(v));
    if (depth > 6) return h('code', null, JSON.stringify(v));
    if (Array.isArray(v)) {
      if (!v.length) return h('span', { class: 'hint' }, 'none');
      if (v.every(function (x) { return x === null || typeof x !== 'object'; }))
        return document.createTextNode(v.map(function (x) { return String(x); }).join(', '));
      return h('ol', null, v.map(function (x) { return h('li', null, renderValue(x, depth + 1)); }));
    }
    var keys = Object.keys(v);
    if (!keys.length) return h('span', { class: 'hint' }, 'none');
    return h('dl', null, keys.map(function (k) {
      return [h('dt', null, k), h('dd', null, renderValue(v[k], depth + 1))];
    }));
  }

  function labelsTable(obj, caption) {
    var keys = Object.keys(obj || {}).sort();
    if (!keys.length) return h('p', { class: 'hint' }, 'None.');
    return h('table', null,
      h('caption', null, caption),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Value'))),
      h('tbody', null, keys.map(function (k) {
        var val = obj[k];
        return h('tr', null, h('th', { scope: 'row' }, h('code', null, k)),
          h('td', null, isHttpUrl(val) ? h('a', { href: val, rel: 'noopener noreferrer' }, val) : String(val)));
      })));
  }

  function field(labelText, control, hint) {
    var id = control.id || nextId('f');
    control.id = id;
    var hintEl = null;
    if (hint) {
      hintEl = h('span', { class: 'hint', id: id + '-hint' }, ' ' + hint);
      control.setAttribute('aria-describedby', id + '-hint');
    }
    return h('p', { class: 'field' }, h('label', { for: id }, labelText, hintEl), control);
  }

  function select(name, options, value) {
    return h('select', { name: name }, options.map(function (o) {
      var v = Array.isArray(o) ? o[0] : o;
      var t = Array.isArray(o) ? o[1] : o;
      return h('option', { value: v, selected: v === value }, t);
    }));
  }

  function busy(form, on) {
    Array.prototype.forEach.call(form.querySelectorAll('button'), function (b) { b.disabled = on; });
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function startView(title) {
    generation += 1;
    if (refreshTimer) { clearInterval(refreshTimer); refreshTimer = null; }
    clear(main);
    document.title = title + ' · runbookd';
    return generation;
  }

  function focusHeading() {
    var h1 = main.querySelector('h1');
    if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus({ preventScroll: false }); }
  }

  function markNav(name) {
    Array.prototype.forEach.call(document.querySelectorAll('[data-nav]'), function (a) {
      if (a.getAttribute('data-nav') === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
  }

  /* ------------------------------------------------------------ incidents */

  function viewList(params, focus) {
    var gen = startView('Incidents');
    markNav('incidents');
    var state = params.get('state') || 'open';
    var severity = params.get('severity') || '';
    var alertname = params.get('alertname') || '';

    var stateSel = select('state', STATES, state);
    var sevSel = select('severity', [['', 'any']].concat(SEVERITIES), severity);
    var nameIn = h('input', { name: 'alertname', value: alertname, size: 18, autocomplete: 'off' });
    var form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter incidents' },
      field('State', stateSel), field('Severity', sevSel), field('Alert name', nameIn),
      h('p', null, h('button', { type: 'submit' }, 'Show')),
      h('p', null, h('button', { type: 'button', onclick: function () { load(); } }, 'Refresh')));
    function apply() {
      var q = new URLSearchParams();
      if (stateSel.value !== 'open') q.set('state', stateSel.value);
      if (sevSel.value) q.set('severity', sevSel.value);
      if (nameIn.value.trim()) q.set('alertname', nameIn.value.trim());
      var target = '#/incidents' + (q.toString() ? '?' + q.toString() : '');
      if (location.hash === target) load(); else location.hash = target;
    }
    form.addEventListener('submit', function (e) { e.preventDefault(); apply(); });
    stateSel.addEventListener('change', apply);
    sevSel.addEventListener('change', apply);

    var out = h('div', { id: 'incident-list', 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', null, 'Loading…'));
    append(main, [h('h1', null, 'Incidents'), form, out]);
    if (focus) focusHeading();

    function load() {
      var q = new URLSearchParams({ state: state, limit: '500' });
      if (severity) q.set('severity', severity);
      if (alertname) q.set('alertname', alertname);
      out.setAttribute('aria-busy', 'true');
      api('GET', '/api/v1/incidents?' + q.toString()).then(function (data) {
        if (gen !== generation) return;
        clear(out);
        out.setAttribute('aria-busy', 'false');
        append(out, incidentTable(data.incidents || [], state));
      }, function (err) {
        if (gen !== generation) return;
        clear(out);
        out.setAttribute('aria-busy', 'false');
        append(out, h('p', null, 'Incidents could not be loaded.'));
        complain(err);
      });
    }
    load();
    /* Refreshed while visible, but not under the user's keyboard focus. */
    refreshTimer = setInterval(function () {
      if (!document.hidden && !out.contains(document.activeElement)) load();
    }, 30000);
  }

  function incidentTable(list, state) {
    var label = STATES.filter(function (x) { return x[0] === state; })[0];
    var what = label ? label[1] : state;
    if (!list.length) return h('p', { class: 'empty' }, 'No incidents (' + what + ') match.');
    var now = Date.now();
    return h('table', { class: 'incidents' },
      h('caption', null, list.length + (list.length === 1 ? ' incident' : ' incidents') + ', ' + what + ', newest first'),
      h('thead', null, h('tr', null,
        ['Severity', 'Alert', 'Namespace', 'State', 'Age', 'Opened', 'Deliveries'].map(function (c) {
          return h('th', { scope: 'col' }, c);
        }))),
      h('tbody', null, list.map(function (inc) {
        var start = ms(inc.startsAt) || ms(inc.openedAt);
        var end = ms(inc.resolvedAt) || now;
        return h('tr', { 'data-id': inc.id },
          h('td', null, sevBadge(inc.severity)),
          h('td', null,
            h('a', { href: '#/incidents/' + enc(inc.id) }, inc.alertname || '(no alertname)'),
            ' ', h('span', { class: 'hint' }, '#' + inc.id),
            inc.summary ? h('div', { class: 'summary' }, inc.summary) : null),
          h('td', null, inc.namespace || '—'),
          h('td', null, stateBadge(inc.state), inc.ackedBy ? h('div', { class: 'hint' }, 'by ' + inc.ackedBy) : null),
          h('td', { class: 'num' }, start === null ? '—' : fmtDuration(end - start)),
          h('td', null, timeEl(inc.openedAt)),
          h('td', { class: 'num' }, String(inc.deliveries === undefined ? '—' : inc.deliveries)));
      })));
  }

  /* Timeline kinds by what they are about (for colours and chart lanes). */
  function kindClass(kind) {
    if (/failed|refused|rate-limited|conflict|exhausted|not remediated/.test(kind)) return 'bad';
    if (/succeeded|^verified$|^resolved$|finished/.test(kind)) return 'ok';
    if (/^(acknowledged|unacknowledged|commented)$/.test(kind)) return 'person';
    if (/^(paged|escalated|escalation|page )/.test(kind) || /notification/.test(kind)) return 'page';
    return 'info';
  }

  function laneOf(kind) {
    if (/^(acknowledged|unacknowledged|commented|resolved)$/.test(kind)) return 3;
    if (/^(paged|page failed|escalated|escalation|notification)/.test(kind)) return 2;
    if (/^(step |plan |remediation|verif|rate-limited|not remediated)/.test(kind)) return 1;
    return 0;
  }

  function viewIncident(id, ackRoute, focus) {
    var gen = startView('Incident ' + id);
    markNav('incidents');
    append(main, [h('p', null, h('a', { href: '#/incidents' }, '← All open incidents')),
      h('h1', null, 'Incident ' + id), h('p', { 'aria-busy': 'true' }, 'Loading…')]);
    if (focus) focusHeading();
    api('GET', '/api/v1/incidents/' + enc(id)).then(function (inc) {
      if (gen !== generation) return;
      renderIncident(inc, ackRoute, focus);
    }, function (err) {
      if (gen !== generation) return;
      main.lastChild.textContent = 'The incident could not be loaded.';
      main.lastChild.setAttribute('aria-busy', 'false');
      complain(err);
    });
  }

  function renderIncident(inc, ackRoute, focus) {
    var id = String(inc.id);
    clear(main);
    document.title = 'Incident ' + id + ': ' + (inc.alertname || '') + ' · runbookd';
    var timeline = inc.timeline || [];
    var acked = inc.state === 'acked';
    var resolved = inc.state === 'resolved';

    append(main, [
      h('p', { class: 'no-print' }, h('a', { href: '#/incidents' }, '← All open incidents')),
      h('h1', null, 'Incident ' + id + ': ' + (inc.alertname || '(no alertname)')),
      inc.summary ? h('p', { class: 'lede' }, inc.summary) : null
    ]);

    if (ackRoute) main.appendChild(ackConfirm(inc));

    append(main, h('dl', { class: 'facts' },
      h('dt', null, 'State'), h('dd', null, stateBadge(inc.state)),
      h('dt', null, 'Severity'), h('dd', null, sevBadge(inc.severity)),
      h('dt', null, 'Namespace'), h('dd', null, inc.namespace || '—'),
      h('dt', null, 'Firing since'), h('dd', null, timeEl(inc.startsAt)),
      inc.firingStartsAt ? [h('dt', null, 'Fired again'), h('dd', null, timeEl(inc.firingStartsAt))] : null,
      h('dt', null, 'Opened'), h('dd', null, timeEl(inc.openedAt)),
      h('dt', null, 'Last seen'), h('dd', null, timeEl(inc.lastSeenAt)),
      h('dt', null, 'Acknowledged'), h('dd', null, inc.ackedAt ? [timeEl(inc.ackedAt), ' by ' + (inc.ackedBy || '?')] : 'no'),
      h('dt', null, 'Resolved'), h('dd', null, inc.resolvedAt ? [timeEl(inc.resolvedAt), ' by ' + (inc.resolvedBy || '?')] : 'no'),
      h('dt', null, 'Age'), h('dd', null, fmtDuration((ms(inc.resolvedAt) || Date.now()) - (ms(inc.startsAt) || ms(inc.openedAt) || Date.now()))),
      h('dt', null, 'Deliveries'), h('dd', null, String(inc.deliveries === undefined ? '—' : inc.deliveries)),
      h('dt', null, 'Fingerprint'), h('dd', null, h('code', null, inc.fingerprint || '—'))));

    var rep = '/api/v1/incidents/' + enc(id) + '/report?format=';
    append(main, h('p', { class: 'no-print' }, 'Post-incident report: ',
      h('a', { href: rep + 'html', target: '_blank', rel: 'noopener' }, 'HTML'), ' · ',
      h('a', { href: rep + 'md', target: '_blank', rel: 'noopener' }, 'Markdown'), ' · ',
      h('a', { href: rep + 'json', target: '_blank', rel: 'noopener' }, 'JSON'), ' · ',
      h('button', { type: 'button', onclick: function () { downloadReport(id); } }, 'Download HTML report'),
      h('span', { class: 'hint' }, ' (the links work without an API token; the download sends yours)')));

    append(main, [h('h2', { id: 'chart-h' }, 'Chart'), chart(inc, timeline), legend()]);

    if (!ackRoute) append(main, [h('h2', { class: 'no-print' }, 'Respond'), actionsForm(inc, acked, resolved)]);
    append(main, [h('h2', { class: 'no-print' }, 'Silence'), silenceForm(inc)]);
    append(main, [h('h2', null, 'Labels'), labelsTable(inc.labels, 'Labels of the alert')]);
    append(main, [h('h2', null, 'Annotations'), labelsTable(inc.annotations, 'Annotations of the alert')]);
    append(main, [h('h2', null, 'Timeline (' + timeline.length + (timeline.length === 1 ? ' event)' : ' events)')),
      timelineList(timeline)]);
    if (focus) {
      var c = main.querySelector('.confirm button.primary');
      if (c && !c.disabled) c.focus(); else focusHeading();
    }
  }

  function ackConfirm(inc) {
    var id = String(inc.id);
    var box = h('section', { class: 'confirm', 'aria-labelledby': 'confirm-h' });
    if (inc.state === 'acked') {
      return append(box, [h('h2', { id: 'confirm-h' }, 'Already acknowledged'),
        h('p', null, 'Incident ' + id + ' was acknowledged by ' + (inc.ackedBy || '?') + ' at ', timeEl(inc.ackedAt), '.'),
        h('p', null, h('a', { href: '#/incidents/' + enc(id) }, 'Show the incident'))]);
    }
    if (inc.state === 'resolved') {
      return append(box, [h('h2', { id: 'confirm-h' }, 'Already resolved'),
        h('p', null, 'Incident ' + id + ' was resolved by ' + (inc.resolvedBy || '?') + ' at ', timeEl(inc.resolvedAt), '; there is nothing to acknowledge.'),
        h('p', null, h('a', { href: '#/incidents/' + enc(id) }, 'Show the incident'))]);
    }
    var by = h('input', { name: 'by', value: getActor(), autocomplete: 'name' });
    var comment = h('textarea', { name: 'comment', rows: 2 });
    var form = h('form', { class: 'ack-confirm' },
      field('Your name', by, getToken() ? '(optional: your token names you)' : null),
      field('Comment (optional)', comment),
      h('p', { class: 'buttons' },
        h('button', { type: 'submit', class: 'primary' }, 'Confirm acknowledgement'),
        h('a', { href: '#/incidents/' + enc(id) }, 'Cancel')));
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      act(form, id, 'ack', by.value, comment.value, '#/incidents/' + enc(id));
    });
    return append(box, [h('h2', { id: 'confirm-h' }, 'Acknowledge incident ' + id + '?'),
      h('p', null, 'Acknowledging stops the escalation: nobody else is paged for this incident while it stays acknowledged.'),
      form]);
  }

  function actionsForm(inc, acked, resolved) {
    var id = String(inc.id);
    var by = h('input', { name: 'by', value: getActor(), autocomplete: 'name' });
    var comment = h('textarea', { name: 'comment', rows: 3 });
    var buttons = [];
    if (!acked && !resolved) buttons.push(h('button', { type: 'submit', value: 'ack', class: 'primary' }, 'Acknowledge'));
    if (acked) buttons.push(h('button', { type: 'submit', value: 'unack' }, 'Unacknowledge'));
    if (!resolved) buttons.push(h('button', { type: 'submit', value: 'resolve' }, 'Resolve'));
    buttons.push(h('button', { type: 'submit', value: 'comment' }, 'Add comment'));
    var form = h('form', { class: 'form actions', 'aria-label': 'Respond to incident ' + id },
      field('Your name', by, getToken() ? '(optional: your token names you)' : '(recorded as the actor)'),
      field('Comment', comment, '(required to add a comment; optional otherwise)'),
      h('p', { class: 'buttons' }, buttons));
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var action = (e.submitter && e.submitter.value) || 'comment';
      if (action === 'comment' && !comment.value.trim()) {
        complain(new Error('write a comment first'));
        comment.focus();
        return;
      }
      act(form, id, action, by.value, comment.value, null);
    });
    return form;
  }

  function act(form, id, action, by, comment, after) {
    var body = {};
    by = (by || '').trim();
    if (by) { body.by = by; setActor(by); }
    if ((comment || '').trim()) body.comment = comment.trim();
    busy(form, true);
    clearMessages();
    api('POST', '/api/v1/incidents/' + enc(id) + '/' + action, body).then(function (res) {
      busy(form, false);
      var msg = (res && res.message) || ('done: ' + action);
      if (after && location.hash !== after) {
        pendingMsg = msg;
        location.hash = after;
        return;
      } else {
        viewIncident(id, false, false);
      }
      say(msg);
    }, function (err) {
      busy(form, false);
      complain(err);
    });
  }

  function downloadReport(id) {
    var headers = {};
    var token = getToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    fetch('/api/v1/incidents/' + enc(id) + '/report?format=html', { headers: headers, cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) {
          return res.text().then(function (t) {
            var m = t;
            try { m = JSON.parse(t).error || t; } catch (e) { /* text */ }
            throw new ApiError(res.status, String(m).trim() || res.statusText);
          });
        }
        return res.blob();
      })
      .then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = h('a', { href: url, download: 'incident-' + id + '-report.html' });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
        say('Report for incident ' + id + ' downloaded.');
      }, function (err) { complain(err instanceof ApiError ? err : new ApiError(0, err.message)); });
  }

  function timelineList(timeline) {
    if (!timeline.length) return h('p', { class: 'hint' }, 'No events.');
    return h('ol', { class: 'timeline' }, timeline.map(function (ev) {
      var kind = String(ev.kind || 'event');
      var detail = ev.detail;
      var hasDetail = detail !== null && detail !== undefined &&
        !(typeof detail === 'object' && Object.keys(detail).length === 0);
      return h('li', { class: 'k-' + kindClass(kind), 'data-kind': kind },
        h('div', { class: 'ev-head' },
          timeEl(ev.at),
          h('span', { class: 'ev-kind' }, kind),
          h('span', { class: 'ev-actor' }, 'by ' + (ev.actor || 'unknown'))),
        hasDetail ? h('div', { class: 'detail' }, renderValue(detail)) : null);
    }));
  }

  /* ------------------------------------------------------------ chart */

  function chart(inc, timeline) {
    var W = 960, left = 118, right = 24, top = 10, laneH = 34, lanes = ['Firing', 'Remediation', 'Pages', 'People'];
    var H = top + lanes.length * laneH + 34;
    var now = Date.now();
    var start = ms(inc.startsAt) || ms(inc.openedAt);
    var end = ms(inc.resolvedAt) || ms(inc.endsAt);
    var times = timeline.map(function (e) { return ms(e.at); }).filter(function (v) { return v !== null; });
    var t0 = Math.min.apply(null, [start || now].concat(times));
    var t1 = Math.max.apply(null, [end || now].concat(times));
    if (t1 - t0 < 20000) t1 = t0 + 20000;
    var span = t1 - t0;
    t0 -= span * 0.02; t1 += span * 0.03; span = t1 - t0;
    function x(t) { return left + (t - t0) / span * (W - left - right); }
    function y(lane) { return top + lane * laneH; }

    var titleId = nextId('chart-title'), descId = nextId('chart-desc');
    var svg = s('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img',
      'aria-labelledby': titleId + ' ' + descId, preserveAspectRatio: 'xMinYMin meet' });
    svg.appendChild(s('title', { id: titleId }, 'Timeline chart of incident ' + inc.id));
    svg.appendChild(s('desc', { id: descId },
      'Firing from ' + fmtTime(start) + (end ? ' to ' + fmtTime(end) : ', still firing') + '; ' +
      timeline.length + ' events. The timeline list below has every event.'));

    lanes.forEach(function (name, i) {
      svg.appendChild(s('rect', { class: 'lane', x: left, y: y(i) + 3, width: W - left - right, height: laneH - 6 }));
      svg.appendChild(s('text', { class: 'lane-label', x: 8, y: y(i) + laneH / 2 + 4 }, name));
    });

    /* axis */
    var axisY = top + lanes.length * laneH + 4;
    var axis = s('g', { class: 'axis' });
    axis.appendChild(s('line', { x1: left, x2: W - right, y1: axisY, y2: axisY }));
    var steps = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
    var step = steps[steps.length - 1] * 1000;
    for (var k = 0; k < steps.length; k++) { if (span / (steps[k] * 1000) <= 8) { step = steps[k] * 1000; break; } }
    var multiDay = span > 86400000;
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      var tx = x(t);
      axis.appendChild(s('line', { class: 'grid', x1: tx, x2: tx, y1: top, y2: axisY + 4 }));
      var d = new Date(t);
      var label = multiDay ? (d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes())
        : step < 60000 ? fmtTime(t, false) : pad(d.getHours()) + ':' + pad(d.getMinutes());
      axis.appendChild(s('text', { x: tx, y: axisY + 17, 'text-anchor': 'middle' }, label));
    }
    svg.appendChild(axis);

    /* firing span */
    if (start !== null) {
      var fx = x(start), fend = x(end || now);
      svg.appendChild(s('rect', { class: 'fire' + (end ? '' : ' ongoing'), x: fx, y: y(0) + 8,
        width: Math.max(2, fend - fx), height: laneH - 16 },
      s('title', null, 'Firing ' + fmtTime(start) + ' – ' + (end ? fmtTime(end) : 'now (still firing)'))));
    }

    /* ack and resolution lines across the lanes */
    function mark(t, cls, text, dy) {
      if (t === null) return;
      var mx = x(t);
      var flip = mx > W - right - 90; /* label left of the line near the edge */
      svg.appendChild(s('line', { class: 'mark-line ' + cls, x1: mx, x2: mx, y1: top, y2: axisY }));
      svg.appendChild(s('text', { class: 'mark-text ' + cls, x: flip ? mx - 3 : mx + 3, y: top + dy,
        'text-anchor': flip ? 'end' : 'start' }, text));
    }
    mark(ms(inc.ackedAt), 'ack', 'acknowledged', 10);
    mark(ms(inc.resolvedAt), 'resolved', 'resolved', 22);

    /* events */
    timeline.forEach(function (ev) {
      var at = ms(ev.at);
      if (at === null) return;
      var kind = String(ev.kind || '');
      var lane = laneOf(kind);
      var cls = 'm-' + kindClass(kind);
      var cx = x(at), cy = y(lane) + laneH / 2;
      var title = s('title', null, fmtTime(at) + ' ' + kind + ' by ' + (ev.actor || 'unknown'));
      var shape;
      if (lane === 2) shape = s('path', { class: cls, d: 'M' + cx + ' ' + (cy - 7) + 'l7 12h-14z' }, title);
      else if (lane === 3) shape = s('path', { class: cls, d: 'M' + cx + ' ' + (cy - 7) + 'l7 7l-7 7l-7-7z' }, title);
      else if (/failed|refused|rate-limited/.test(kind))
        shape = s('path', { class: 'cross', d: 'M' + (cx - 6) + ' ' + (cy - 6) + 'l12 12m0-12l-12 12',
          fill: 'none', stroke: '#c62828', 'stroke-width': 3 }, title);
      else shape = s('circle', { class: cls, cx: cx, cy: cy, r: 6 }, title);
      svg.appendChild(shape);
    });
    return svg;
  }

  function legend() {
    function item(shape, text) {
      return h('li', null, s('svg', { width: 16, height: 16, viewBox: '0 0 16 16', 'aria-hidden': 'true' }, shape), ' ' + text);
    }
    return h('ul', { class: 'legend', 'aria-label': 'Chart legend' },
      item(s('rect', { x: 1, y: 4, width: 14, height: 8, fill: '#f4b4ae', stroke: '#c62828' }), 'firing'),
      item(s('circle', { cx: 8, cy: 8, r: 6, fill: '#1b7f3b' }), 'step succeeded / verified'),
      item(s('path', { d: 'M2 2l12 12m0-12l-12 12', stroke: '#c62828', 'stroke-width': 3, fill: 'none' }), 'failed / refused / rate-limited'),
      item(s('circle', { cx: 8, cy: 8, r: 6, fill: '#57606a' }), 'other remediation event'),
      item(s('path', { d: 'M8 1l7 12h-14z', fill: '#d84315' }), 'page / escalation'),
      item(s('path', { d: 'M8 1l7 7l-7 7l-7-7z', fill: '#6a1b9a' }), 'acknowledge, comment, resolve'));
  }

  /* ------------------------------------------------------------ silences */

  function silenceForm(inc) {
    var labels = inc.labels || {};
    var names = Object.keys(labels).sort();
    var boxes = names.map(function (n) {
      var id = nextId('m');
      var cb = h('input', { type: 'checkbox', id: id, name: 'matcher', value: n, checked: true });
      return h('li', null, cb, ' ', h('label', { for: id }, h('code', null, n + '="' + labels[n] + '"')));
    });
    var dur = select('duration', DURATIONS, '2h');
    var by = h('input', { name: 'createdBy', value: getActor(), required: true, autocomplete: 'name' });
    var comment = h('textarea', { name: 'comment', rows: 2, required: true });
    var form = h('form', { class: 'form silence', 'aria-label': 'Silence this alert' },
      h('fieldset', null, h('legend', null, 'Matchers (alerts with all the chosen labels are silenced)'),
        h('ul', { class: 'matchers' }, boxes)),
      field('Duration', dur),
      field('Created by', by),
      field('Comment', comment, '(required: why it is silenced)'),
      h('p', { class: 'buttons' }, h('button', { type: 'submit' }, 'Create silence')));
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var chosen = Array.prototype.filter.call(form.querySelectorAll('input[name=matcher]'), function (c) { return c.checked; });
      if (!chosen.length) { complain(new Error('choose at least one label to match')); return; }
      var d = parseDuration(dur.value);
      var now = new Date();
      var body = {
        matchers: chosen.map(function (c) {
          return { name: c.value, value: String(labels[c.value]), isRegex: false, isEqual: true };
        }),
        startsAt: now.toISOString(),
        endsAt: new Date(now.getTime() + d).toISOString(),
        createdBy: by.value.trim(),
        comment: comment.value.trim()
      };
      if (!body.createdBy || !body.comment) { complain(new Error('a silence needs who creates it and a comment')); return; }
      setActor(body.createdBy);
      busy(form, true);
      clearMessages();
      api('POST', '/api/v2/silences', body).then(function (res) {
        busy(form, false);
        comment.value = '';
        var sid = res && res.silenceID ? res.silenceID : '?';
        say('Silence ' + sid + ' created until ' + fmtTime(ms(body.endsAt)) + '. See Silences.');
      }, function (err) { busy(form, false); complain(err); });
    });
    return form;
  }

  function matcherText(m) {
    var op = m.isEqual === false ? (m.isRegex ? '!~' : '!=') : (m.isRegex ? '=~' : '=');
    return m.name + op + JSON.stringify(String(m.value));
  }

  function viewSilences(params, focus) {
    var gen = startView('Silences');
    markNav('silences');
    var showExpired = params.get('expired') === '1';
    var cb = h('input', { type: 'checkbox', id: 'show-expired', checked: showExpired });
    cb.addEventListener('change', function () { location.hash = cb.checked ? '#/silences?expired=1' : '#/silences'; });
    var out = h('div', { id: 'silence-list', 'aria-busy': 'true' }, h('p', null, 'Loading…'));
    append(main, [h('h1', null, 'Silences'),
      h('p', { class: 'lede' }, 'Alerts matching an active silence open no remediation and page nobody. ' +
        'Create one from an incident’s page.'),
      h('p', { class: 'no-print' }, cb, ' ', h('label', { for: 'show-expired' }, 'Show expired silences')),
      out]);
    if (focus) focusHeading();
    function load() {
      api('GET', '/api/v2/silences').then(function (list) {
        if (gen !== generation) return;
        clear(out);
        out.setAttribute('aria-busy', 'false');
        list = Array.isArray(list) ? list : [];
        var shown = list.filter(function (x) { return showExpired || !x.status || x.status.state !== 'expired'; });
        append(out, silenceTable(shown, list.length - shown.length, load));
      }, function (err) {
        if (gen !== generation) return;
        clear(out);
        out.setAttribute('aria-busy', 'false');
        append(out, h('p', null, 'Silences could not be loaded.'));
        complain(err);
      });
    }
    load();
  }

  function silenceTable(list, hidden, reload) {
    var note = hidden ? h('p', { class: 'hint' }, hidden + ' expired not shown.') : null;
    if (!list.length) return [h('p', { class: 'empty' }, 'No silences.'), note];
    return [h('table', { class: 'silences' },
      h('caption', null, list.length + (list.length === 1 ? ' silence' : ' silences')),
      h('thead', null, h('tr', null, ['State', 'Matchers', 'Starts', 'Ends', 'Created by', 'Comment', 'Action'].map(function (c) {
        return h('th', { scope: 'col' }, c);
      }))),
      h('tbody', null, list.map(function (sil) {
        var state = sil.status && sil.status.state ? sil.status.state : '?';
        var btn = null;
        if (state !== 'expired') {
          btn = h('button', { type: 'button', class: 'danger', 'aria-label': 'Expire silence ' + sil.id }, 'Expire');
          btn.addEventListener('click', function () {
            btn.disabled = true;
            clearMessages();
            api('DELETE', '/api/v2/silence/' + enc(sil.id)).then(function () {
              say('Silence ' + sil.id + ' expired.');
              reload();
            }, function (err) { btn.disabled = false; complain(err); });
          });
        }
        return h('tr', { 'data-id': sil.id },
          h('td', null, stateBadge(state)),
          h('td', null, (sil.matchers || []).map(function (m, i) {
            return [i ? h('br') : null, h('code', null, matcherText(m))];
          })),
          h('td', null, timeEl(sil.startsAt)),
          h('td', null, timeEl(sil.endsAt)),
          h('td', null, sil.createdBy || '—'),
          h('td', null, sil.comment || ''),
          h('td', null, btn || h('span', { class: 'hint' }, '—')));
      }))), note];
  }

  /* ------------------------------------------------------------ stats */

  function viewStats(params, focus) {
    var gen = startView('Statistics');
    markNav('stats');
    var win = params.get('window') || '7d';
    var sel = select('window', [['24h', 'last 24 hours'], ['7d', 'last 7 days'], ['30d', 'last 30 days'], ['90d', 'last 90 days']], win);
    sel.addEventListener('change', function () { location.hash = '#/stats?window=' + sel.value; });
    var out = h('div', { 'aria-busy': 'true' }, h('p', null, 'Loading…'));
    var days = { '24h': 1, '7d': 7, '30d': 30, '90d': 90 }[win] || 7;
    var to = new Date();
    var from = new Date(to.getTime() - days * 86400000);
    var path = '/api/v1/stats?from=' + enc(from.toISOString()) + '&to=' + enc(to.toISOString());
    append(main, [h('h1', null, 'Statistics'),
      h('form', { class: 'filters', 'aria-label': 'Statistics window' }, field('Window', sel)),
      h('p', { class: 'hint' }, 'How each figure is computed is written in runbookd’s docs/. ',
        h('a', { href: path, target: '_blank', rel: 'noopener' }, 'The same as JSON')),
      out]);
    if (focus) focusHeading();
    api('GET', path).then(function (data) {
      if (gen !== generation) return;
      clear(out);
      out.setAttribute('aria-busy', 'false');
      append(out, h('div', { class: 'detail stats' }, renderValue(data)));
    }, function (err) {
      if (gen !== generation) return;
      clear(out);
      out.setAttribute('aria-busy', 'false');
      if (err.status === 404) append(out, h('p', null, 'This runbookd has no statistics endpoint.'));
      else complain(err);
    });
  }

  /* ------------------------------------------------------------ router */

  function route(focus) {
    var hash = location.hash || '';
    var raw = hash.slice(0, 2) === '#/' ? hash.slice(1) : '';
    var qi = raw.indexOf('?');
    var path = qi >= 0 ? raw.slice(0, qi) : raw;
    var params = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : '');
    var parts = path.split('/').filter(Boolean).map(function (p) {
      try { return decodeURIComponent(p); } catch (e) { return p; }
    });
    if (!parts.length || (parts[0] === 'incidents' && parts.length === 1)) return viewList(params, focus);
    if (parts[0] === 'incidents' && parts.length <= 3 && (parts.length === 2 || parts[2] === 'ack'))
      return viewIncident(parts[1], parts[2] === 'ack', focus);
    if (parts[0] === 'silences') return viewSilences(params, focus);
    if (parts[0] === 'stats') return viewStats(params, focus);
    startView('Not found');
    markNav('');
    append(main, [h('h1', null, 'Not found'), h('p', null, 'Nothing lives at ', h('code', null, hash), '. ',
      h('a', { href: '#/incidents' }, 'Open incidents'))]);
    if (focus) focusHeading();
  }

  function showAuthState() {
    var st = document.getElementById('auth-state');
    st.textContent = getToken() ? 'set for this tab' : 'none';
  }

  function init() {
    main = document.getElementById('main');
    statusEl = document.getElementById('status');
    errorEl = document.getElementById('error');
    var form = document.getElementById('auth-form');
    var tokenIn = document.getElementById('auth-token');
    var actorIn = document.getElementById('auth-actor');
    tokenIn.value = getToken();
    actorIn.value = getActor();
    showAuthState();
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      setToken(tokenIn.value.trim());
      setActor(actorIn.value.trim());
      showAuthState();
      document.getElementById('auth').open = false;
      say(getToken() ? 'Token saved for this tab.' : 'No token: requests go without one.');
      route(false);
    });
    document.getElementById('auth-forget').addEventListener('click', function () {
      tokenIn.value = '';
      setToken('');
      showAuthState();
      say('Token forgotten.');
      route(false);
    });
    /* The skip link moves the focus without touching the route. */
    document.querySelector('.skip').addEventListener('click', function (e) {
      e.preventDefault();
      main.focus();
    });
    window.addEventListener('hashchange', function () {
      clearMessages();
      if (pendingMsg) { say(pendingMsg); pendingMsg = null; }
      route(true);
    });
    route(false);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());
