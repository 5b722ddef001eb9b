// deconflict · the live map. One page, served by the broker at /map.
//
// Login: the party's token lives in sessionStorage (this tab only); it goes to the
// broker in an Authorization header (REST) or as a "bearer.TOKEN" WebSocket
// subprotocol (/stream), never in a URL. The "deconflict.map" subprotocol asks the
// broker for a "picture" frame after every detection cycle: this party's own
// aircraft (the working group's: every party's). Alerts come on the same socket.
// Updates are batched: at most one setData per source per animation frame, and no
// DOM element per aircraft (MapLibre draws them all in WebGL).
"use strict";

(() => {
  const TOKEN_KEY = "deconflict.token";
  const LEVELS = ["none", "advisory", "caution", "warning"];
  const COLOURS = {
    none: "#3fa9f5",
    advisory: "#f5d33f",
    caution: "#ff9100",
    warning: "#ff1744",
    intruder: "#e040fb",
    zone: "#c2185b",
  };
  const PARTY_COLOURS = ["#ffffff", "#00e5ff", "#76ff03", "#ffea00", "#ff80ab", "#b388ff"];
  const TRAIL_POINTS = 20;
  const TRAIL_EVERY_MS = 1000;
  const HOTLINE_POLL_MS = 2000;
  const EMPTY = { type: "FeatureCollection", features: [] };
  const NM_M = 1852;
  const EARTH_M = 6371008.8;

  const $ = (id) => document.getElementById(id);
  const abs = (path) => new URL(path, location.href).href;

  // ---- state (plain objects and Maps; nothing per aircraft in the DOM) ----
  const state = {
    token: null,
    me: null, // party name
    admin: false,
    parties: [], // admin: every party's name, for halo colours
    aircraft: new Map(), // key -> {id, party, lat, lon, alt_ft, gs_kt, track_deg, vs_fpm}
    trails: new Map(), // key -> [[lon, lat], ...]
    alerts: new Map(), // alert key -> latest open alert event
    lastAlertId: new Map(), // alert key -> newest event id applied (cleared included)
    zones: EMPTY,
    time: null, // the latest picture's time (broker clock, s)
    cycle: 0,
    pending: null, // picture frame not drawn yet
    dirty: false,
    scheduled: false,
    socket: null,
    retryMs: 1000,
    drawnCycle: 0,
    awaiting: null, // {cycle, at_s, received_ms} set on setData, until drawn
    loaded: null,
    timings: [], // {cycle, at_s, received_ms, drawn_ms} (ms: Unix, from performance)
    frames: 0,
    trailAt: -Infinity,
    trailsDirty: false,
    intruderSig: "",
    alertsDirty: true,
    readyCycle: 0,
  };
  // For tests and bench/map.py: read-only views of what the page holds and drew.
  window.deconflictMap = {
    summary: () => ({
      me: state.me,
      admin: state.admin,
      aircraft: state.aircraft.size,
      alerts: state.alerts.size,
      intruders: intruderFeatures().length,
      cycle: state.cycle,
      time: state.time,
      drawnCycle: state.drawnCycle,
      frames: state.frames,
    }),
    timings: () => state.timings.slice(),
    // Each own aircraft's open alert level, by "party|id" (party empty on a party's map).
    levels: () => Object.fromEntries([...levels()].map(([k, v]) => [k, LEVELS[v]])),
  };

  const nowMs = () => performance.timeOrigin + performance.now();

  // ---- REST ----
  async function api(path) {
    const resp = await fetch(path, {
      headers: { Authorization: `Bearer ${state.token}` },
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
    if (resp.status === 401) throw new AuthError();
    return resp;
  }
  class AuthError extends Error {}

  // ---- login ----
  function showLogin(message) {
    $("login").hidden = false;
    for (const id of ["bar", "side", "legend"]) $(id).hidden = true;
    $("login-error").textContent = message || "";
    const as = new URLSearchParams(location.search).get("as");
    if (as) {
      $("login-as").hidden = false;
      $("login-as").textContent = `Map of ${as}`;
    }
    $("token").focus();
  }

  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = $("token").value.trim();
    $("token").value = "";
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    start(token);
  });

  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });

  async function start(token) {
    state.token = token;
    try {
      const who = await api("/hotline/whoami");
      if (!who.ok) throw new Error(`whoami: HTTP ${who.status}`);
      const me = await who.json();
      state.me = me.party;
      state.admin = me.admin === true;
      if (state.admin) {
        const parties = await api("/parties");
        if (parties.ok) state.parties = (await parties.json()).map((p) => p.name).sort();
      }
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(err instanceof AuthError ? "Unknown or revoked token." : String(err.message));
      return;
    }
    $("login").hidden = true;
    for (const id of ["bar", "side", "legend"]) $(id).hidden = false;
    $("who").textContent = state.admin ? `${state.me} · working group (all parties)` : state.me;
    document.title = `deconflict · ${state.me}`;
    startMap();
  }

  // ---- the map ----
  let map = null;

  function triangleImage(size) {
    // A signed-distance-field-friendly arrowhead, pointing north; tinted per aircraft.
    const c = document.createElement("canvas");
    c.width = c.height = size;
    const g = c.getContext("2d");
    g.fillStyle = "#fff";
    g.beginPath();
    g.moveTo(size / 2, 1);
    g.lineTo(size - 3, size - 2);
    g.lineTo(size / 2, size * 0.7);
    g.lineTo(3, size - 2);
    g.closePath();
    g.fill();
    return g.getImageData(0, 0, size, size);
  }

  function startMap() {
    map = new maplibregl.Map({
      container: "map",
      center: [38.5, 35.0],
      zoom: 5.2,
      attributionControl: false,
      style: {
        version: 8,
        sources: {
          coastlines: { type: "geojson", data: abs("/map/basemap/coastlines.geojson") },
          borders: { type: "geojson", data: abs("/map/basemap/borders.geojson") },
          zones: { type: "geojson", data: EMPTY },
          trails: { type: "geojson", data: EMPTY },
          aircraft: { type: "geojson", data: EMPTY },
          intruders: { type: "geojson", data: EMPTY },
          links: { type: "geojson", data: EMPTY },
        },
        layers: [
          { id: "background", type: "background", paint: { "background-color": "#0b1622" } },
          {
            id: "coastlines",
            type: "line",
            source: "coastlines",
            paint: { "line-color": "#4f6f88", "line-width": 1 },
          },
          {
            id: "borders",
            type: "line",
            source: "borders",
            paint: { "line-color": "#7c6a96", "line-width": 1, "line-dasharray": [3, 2] },
          },
          {
            id: "zones-fill",
            type: "fill",
            source: "zones",
            paint: {
              "fill-color": COLOURS.zone,
              "fill-opacity": ["case", ["get", "active"], 0.22, 0.05],
            },
          },
          {
            id: "zones-line",
            type: "line",
            source: "zones",
            paint: {
              "line-color": COLOURS.zone,
              "line-width": ["case", ["get", "active"], 1.6, 0.8],
              "line-opacity": ["case", ["get", "active"], 0.9, 0.45],
            },
          },
          {
            id: "trails",
            type: "line",
            source: "trails",
            paint: { "line-color": "#7fa7c9", "line-width": 1, "line-opacity": 0.45 },
          },
          {
            id: "links",
            type: "line",
            source: "links",
            paint: { "line-color": COLOURS.intruder, "line-width": 1, "line-dasharray": [2, 2] },
          },
          {
            id: "intruders",
            type: "circle",
            source: "intruders",
            paint: {
              "circle-radius": 6,
              "circle-color": "rgba(0,0,0,0)",
              "circle-stroke-color": COLOURS.intruder,
              "circle-stroke-width": 2.5,
            },
          },
          {
            id: "aircraft",
            type: "symbol",
            source: "aircraft",
            layout: {
              "icon-image": "aircraft",
              "icon-rotate": ["get", "trk"],
              "icon-rotation-alignment": "map",
              "icon-allow-overlap": true,
              "icon-ignore-placement": true,
              "icon-size": 1,
            },
            paint: {
              "icon-color": [
                "match",
                ["get", "level"],
                "warning",
                COLOURS.warning,
                "caution",
                COLOURS.caution,
                "advisory",
                COLOURS.advisory,
                COLOURS.none,
              ],
              "icon-halo-color": ["coalesce", ["get", "halo"], "#000000"],
              "icon-halo-width": state.admin ? 2.2 : 0.8,
            },
          },
        ],
      },
    });
    map.on("error", (e) => console.error(`map: ${e.error ? e.error.message : e}`));
    map.addImage("aircraft", triangleImage(22), { sdf: true });
    // The feed does not wait for the basemap: flush() draws once the style is ready.
    loadZones();
    loadAlerts().then(connect);
    pollHotline();
    // Drawn: the aircraft source holds the cycle set last, and a frame was rendered.
    map.on("sourcedata", (e) => {
      if (e.sourceId === "aircraft" && state.awaiting && map.isSourceLoaded("aircraft")) {
        state.loaded = state.awaiting;
        state.awaiting = null;
      }
    });
    map.on("render", () => {
      const done = state.loaded;
      if (!done) return;
      state.loaded = null;
      sendReady(done.cycle);
      state.drawnCycle = done.cycle;
      state.timings.push({ ...done, drawn_ms: nowMs() });
      if (state.timings.length > 20000) state.timings.splice(0, 10000);
    });
    for (const layer of ["aircraft", "intruders", "zones-fill"]) {
      map.on("click", layer, (e) => showPopup(layer, e));
      map.on("mouseenter", layer, () => (map.getCanvas().style.cursor = "pointer"));
      map.on("mouseleave", layer, () => (map.getCanvas().style.cursor = ""));
    }
  }

  // ---- the stream ----
  function connect() {
    const url = abs("/stream").replace(/^http/, "ws");
    const ws = new WebSocket(url, ["deconflict.map", `bearer.${state.token}`]);
    state.socket = ws;
    setLink("connecting", "");
    ws.onopen = () => {
      state.retryMs = 1000;
      setLink("live", "live");
    };
    ws.onmessage = (ev) => onFrame(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      state.socket = null;
      if (ev.code === 1008) {
        sessionStorage.removeItem(TOKEN_KEY);
        location.reload();
        return;
      }
      setLink(`reconnecting in ${Math.round(state.retryMs / 1000)} s`, "down");
      setTimeout(connect, state.retryMs);
      state.retryMs = Math.min(state.retryMs * 2, 10000);
    };
  }

  // Flow control: the broker sends the next (newest) picture once this one is drawn.
  function sendReady(cycle) {
    if (cycle <= state.readyCycle) return;
    state.readyCycle = cycle;
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send('{"type":"ready"}');
    }
  }

  function setLink(text, cls) {
    $("link").textContent = text;
    $("link").className = `pill ${cls}`;
  }

  function onFrame(frame) {
    if (frame.type === "picture") {
      frame.received_ms = nowMs();
      state.pending = frame; // only the newest picture is drawn
      schedule();
    } else if (frame.type === "alert") {
      applyAlert(frame);
      state.dirty = true;
      state.alertsDirty = true;
      schedule();
    }
  }

  function schedule() {
    if (state.scheduled) return;
    state.scheduled = true;
    requestAnimationFrame(flush);
  }

  // ---- alerts ----
  const alertKey = (a) => `${a.party || ""}|${a.own_id}|${a.conflict_id}`;
  const keyFor = (party, id) => `${party || ""}|${id}`;

  function applyAlert(a) {
    const k = alertKey(a);
    if ((state.lastAlertId.get(k) ?? -1) >= a.id) return;
    state.lastAlertId.set(k, a.id);
    if (a.event === "cleared") state.alerts.delete(k);
    else state.alerts.set(k, a);
  }

  async function loadAlerts() {
    let after = 0;
    try {
      for (;;) {
        const resp = await api(`/alerts?after_id=${after}&limit=10000`);
        if (!resp.ok) return;
        const page = await resp.json();
        for (const a of page) applyAlert(a);
        state.alertsDirty = true;
        if (page.length < 10000) break;
        after = page[page.length - 1].id;
      }
    } catch (err) {
      if (err instanceof AuthError) location.reload();
    }
    state.dirty = true;
    schedule();
  }

  function levels() {
    // Each own aircraft's highest open alert level (over open alerts: few).
    const out = new Map();
    for (const a of state.alerts.values()) {
      const k = keyFor(a.party, a.own_id);
      const lvl = LEVELS.indexOf(a.level);
      if (lvl > (out.get(k) ?? -1)) out.set(k, lvl);
    }
    return out;
  }

  function destination(lon, lat, bearingDeg, rangeNm) {
    const d = (rangeNm * NM_M) / EARTH_M;
    const b = (bearingDeg * Math.PI) / 180;
    const p1 = (lat * Math.PI) / 180;
    const l1 = (lon * Math.PI) / 180;
    const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
    const l2 =
      l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
    return [(((l2 * 180) / Math.PI + 540) % 360) - 180, (p2 * 180) / Math.PI];
  }

  function intruderFeatures() {
    // The intruder of each open conflict, placed at the disclosed range and bearing
    // from its own aircraft's current position (relative geometry as of the latest event).
    const out = [];
    for (const [k, a] of state.alerts) {
      const i = a.intruder || {};
      if (a.zone || i.range_nm == null || i.bearing_deg == null) continue;
      const own = state.aircraft.get(keyFor(a.party, a.own_id));
      if (!own) continue;
      out.push({
        type: "Feature",
        geometry: { type: "Point", coordinates: destination(own.lon, own.lat, i.bearing_deg, i.range_nm) },
        properties: { alert: k, own: [own.lon, own.lat] },
      });
    }
    return out;
  }

  // ---- one batched update per animation frame ----
  function flush() {
    state.scheduled = false;
    if (!map || !map.getSource("aircraft")) {
      setTimeout(schedule, 50); // the style is not ready yet
      return;
    }
    const frame = state.pending;
    state.pending = null;
    const t0 = performance.now();
    if (frame) applyPicture(frame);
    if (!frame && !state.dirty) return;
    state.dirty = false;
    state.frames += 1;
    const lv = levels();
    const features = [];
    for (const [k, ac] of state.aircraft) {
      const level = LEVELS[lv.get(k) ?? 0];
      const props = { k, trk: ac.track_deg, level };
      if (state.admin) props.halo = partyColour(ac.party);
      features.push({ type: "Feature", geometry: { type: "Point", coordinates: [ac.lon, ac.lat] }, properties: props });
    }
    if (frame) {
      // Should "drawn" never be seen (a hidden tab draws nothing), ask again anyway.
      setTimeout(() => sendReady(frame.cycle), 2000);
      state.awaiting = {
        cycle: frame.cycle,
        at_s: frame.at_s,
        received_ms: frame.received_ms,
        build_ms: performance.now() - t0,
      };
    }
    map.getSource("aircraft").setData({ type: "FeatureCollection", features });
    if (state.trailsDirty) {
      // Trails change once a second at most (they are the heaviest source).
      state.trailsDirty = false;
      const trails = [];
      for (const t of state.trails.values()) {
        if (t.length > 1) trails.push({ type: "Feature", geometry: { type: "LineString", coordinates: t }, properties: {} });
      }
      map.getSource("trails").setData({ type: "FeatureCollection", features: trails });
    }
    const intruders = intruderFeatures();
    const sig = JSON.stringify(intruders.map((f) => f.geometry.coordinates));
    if (sig !== state.intruderSig) {
      state.intruderSig = sig;
      const links = intruders.map((f) => ({
        type: "Feature",
        geometry: { type: "LineString", coordinates: [f.properties.own, f.geometry.coordinates] },
        properties: {},
      }));
      map.getSource("intruders").setData({ type: "FeatureCollection", features: intruders });
      map.getSource("links").setData({ type: "FeatureCollection", features: links });
    }
    refreshZones();
    renderBar();
    if (state.alertsDirty) {
      state.alertsDirty = false;
      renderAlerts();
    }
  }

  function applyPicture(frame) {
    const a = frame.aircraft;
    const n = a.id.length;
    const seen = new Set();
    const now = performance.now();
    const trail = now - state.trailAt >= TRAIL_EVERY_MS;
    if (trail) {
      state.trailAt = now;
      state.trailsDirty = true;
    }
    for (let j = 0; j < n; j++) {
      const party = a.party ? a.party[j] : null;
      const k = keyFor(party, a.id[j]);
      seen.add(k);
      state.aircraft.set(k, {
        id: a.id[j],
        party,
        lat: a.lat[j],
        lon: a.lon[j],
        alt_ft: a.alt_ft[j],
        gs_kt: a.gs_kt[j],
        track_deg: a.track_deg[j],
        vs_fpm: a.vs_fpm[j],
      });
      if (trail) {
        let t = state.trails.get(k);
        if (!t) state.trails.set(k, (t = []));
        t.push([a.lon[j], a.lat[j]]);
        if (t.length > TRAIL_POINTS) t.shift();
      }
    }
    for (const k of state.aircraft.keys()) {
      if (!seen.has(k)) {
        state.aircraft.delete(k);
        state.trails.delete(k);
        state.trailsDirty = true;
      }
    }
    state.time = frame.time;
    state.cycle = frame.cycle;
    if (!state.framed && n) fitOnce(a);
  }

  function fitOnce(a) {
    // The first picture with aircraft frames them (beside the side panel), once.
    state.framed = true;
    let [w, s, e, nn] = [180, 90, -180, -90];
    for (let j = 0; j < a.id.length; j++) {
      w = Math.min(w, a.lon[j]);
      e = Math.max(e, a.lon[j]);
      s = Math.min(s, a.lat[j]);
      nn = Math.max(nn, a.lat[j]);
    }
    const pad = 1.5;
    map.fitBounds(
      [
        [w - pad, s - pad],
        [e + pad, nn + pad],
      ],
      { padding: { top: 60, bottom: 50, left: 30, right: 350 }, maxZoom: 6.5, animate: false },
    );
  }

  function partyColour(name) {
    const i = state.parties.indexOf(name);
    return PARTY_COLOURS[(i < 0 ? 0 : i) % PARTY_COLOURS.length];
  }

  function fmtTime(t) {
    if (t == null) return "–";
    if (t > 1e9) return new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + "Z";
    return `t = ${Math.round(t)} s`;
  }

  function renderBar() {
    $("clock").textContent = fmtTime(state.time);
    $("counts").textContent = `${state.aircraft.size} aircraft · ${state.alerts.size} open alert(s)`;
  }

  function describe(a) {
    const parts = [];
    if (a.zone) {
      parts.push(a.manoeuvre === "zone_violation" ? `inside ${a.zone}` : `entering ${a.zone}`);
      if (a.t_in_s != null) parts.push(`in ${Math.round(a.t_in_s)} s`);
      return parts.join(" · ");
    }
    parts.push(a.manoeuvre.replace(/_/g, " "));
    if (a.target_vs_fpm != null && (a.manoeuvre === "climb" || a.manoeuvre === "descend")) {
      parts.push(`${a.target_vs_fpm > 0 ? "+" : ""}${Math.round(a.target_vs_fpm)} fpm`);
    }
    if (a.target_track_deg != null && a.manoeuvre.startsWith("turn")) {
      parts.push(`to ${String(Math.round(a.target_track_deg)).padStart(3, "0")}°`);
    }
    if (a.t_in_s != null) parts.push(`loss in ${Math.round(a.t_in_s)} s`);
    return parts.join(" · ");
  }

  function intruderText(a) {
    const i = a.intruder || {};
    if (i.range_nm == null) return "";
    const rel = i.rel_alt_ft == null ? "" : ` · ${i.rel_alt_ft >= 0 ? "+" : ""}${Math.round(i.rel_alt_ft)} ft`;
    const closure = i.closure_kt == null ? "" : ` · closing ${Math.round(i.closure_kt)} kt`;
    return `intruder ${i.range_nm.toFixed(1)} NM at ${String(Math.round(i.bearing_deg)).padStart(3, "0")}°${rel}${closure}`;
  }

  function li(cls, title, meta) {
    const el = document.createElement("li");
    el.className = cls;
    const b = document.createElement("div");
    b.textContent = title;
    el.append(b);
    for (const m of meta.filter(Boolean)) {
      const d = document.createElement("div");
      d.className = "meta";
      d.textContent = m;
      el.append(d);
    }
    return el;
  }

  function renderAlerts() {
    const list = [...state.alerts.values()].sort(
      (x, y) => LEVELS.indexOf(y.level) - LEVELS.indexOf(x.level) || y.id - x.id,
    );
    $("alert-count").textContent = String(list.length);
    const items = list.slice(0, 200).map((a) => {
      const who = a.party ? `${a.party} ` : "";
      const el = li(a.level, `${a.level.toUpperCase()} · ${who}${a.own_id}`, [describe(a), intruderText(a)]);
      el.addEventListener("click", () => {
        const ac = state.aircraft.get(keyFor(a.party, a.own_id));
        if (ac) map.easeTo({ center: [ac.lon, ac.lat], zoom: Math.max(map.getZoom(), 7) });
      });
      return el;
    });
    $("alerts").replaceChildren(...items);
  }

  // ---- protected areas ----
  async function loadZones() {
    try {
      const resp = await api("/agreement");
      if (!resp.ok) return;
      const terms = await resp.json();
      state.zones = { type: "FeatureCollection", features: terms.protected_areas || [] };
      zonesShown = null;
      state.dirty = true;
      schedule();
    } catch (err) {
      if (err instanceof AuthError) location.reload();
    }
  }

  const asSeconds = (v) => (typeof v === "number" ? v : Date.parse(v) / 1000);

  function zoneActive(props, t) {
    const windows = props && props.active;
    if (!windows) return true;
    if (t == null) return false;
    return windows.some(([a, b]) => asSeconds(a) <= t && t < asSeconds(b));
  }

  let zonesShown = null;
  function refreshZones() {
    const features = state.zones.features.map((f, j) => ({
      type: "Feature",
      geometry: f.geometry,
      properties: { j, active: zoneActive(f.properties, state.time) },
    }));
    const sig = features.map((f) => (f.properties.active ? 1 : 0)).join("");
    if (sig === zonesShown) return; // only when a window opens or closes
    zonesShown = sig;
    map.getSource("zones").setData({ type: "FeatureCollection", features });
  }

  // ---- popups (DOM built with textContent: nothing from the wire is parsed as HTML) ----
  function dl(rows) {
    const d = document.createElement("dl");
    for (const [k, v] of rows) {
      if (v == null || v === "") continue;
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      d.append(dt, dd);
    }
    return d;
  }

  function showPopup(layer, e) {
    const f = e.features && e.features[0];
    if (!f) return;
    const box = document.createElement("div");
    const head = document.createElement("strong");
    box.append(head);
    if (layer === "aircraft") {
      const ac = state.aircraft.get(f.properties.k);
      if (!ac) return;
      head.textContent = ac.party ? `${ac.party} · ${ac.id}` : ac.id;
      box.append(
        dl([
          ["altitude", `${Math.round(ac.alt_ft)} ft`],
          ["speed", `${Math.round(ac.gs_kt)} kt`],
          ["track", `${String(Math.round(ac.track_deg)).padStart(3, "0")}°`],
          ["vertical", `${Math.round(ac.vs_fpm)} fpm`],
        ]),
      );
      for (const a of state.alerts.values()) {
        if (keyFor(a.party, a.own_id) !== f.properties.k) continue;
        box.append(dl([[a.level, describe(a)], ["", intruderText(a)]]));
      }
    } else if (layer === "intruders") {
      const a = state.alerts.get(f.properties.alert);
      if (!a) return;
      head.textContent = `intruder of ${a.party ? a.party + " " : ""}${a.own_id}`;
      box.append(dl([["as disclosed", intruderText(a)], ["advisory", describe(a)], ["conflict", a.conflict_id]]));
    } else {
      const z = state.zones.features[f.properties.j];
      const p = (z && z.properties) || {};
      head.textContent = p.name || "protected area";
      const windows = p.active ? p.active.map(([a, b]) => `${fmtTime(asSeconds(a))} – ${fmtTime(asSeconds(b))}`) : null;
      box.append(
        dl([
          ["owner", p.owner],
          ["floor", p.floor_ft == null ? "surface" : `${p.floor_ft} ft`],
          ["ceiling", p.ceiling_ft == null ? "unlimited" : `${p.ceiling_ft} ft`],
          ["applies to", p.parties ? p.parties.join(", ") : "every aircraft"],
          ["active", windows ? windows.join("; ") : "always"],
          ["now", f.properties.active ? "active" : "inactive"],
        ]),
      );
    }
    new maplibregl.Popup({ closeButton: true, maxWidth: "320px" }).setLngLat(e.lngLat).setDOMContent(box).addTo(map);
  }

  // ---- the hotline panel ----
  async function pollHotline() {
    try {
      const [channel, overdue, recent] = await Promise.all([
        api("/hotline/channel"),
        api("/hotline/overdue"),
        api("/hotline/recent?limit=15"),
      ]);
      if (channel.ok) renderChannel(await channel.json());
      if (overdue.ok) renderOverdue(await overdue.json());
      if (recent.ok) renderMessages(await recent.json());
    } catch (err) {
      if (err instanceof AuthError) {
        location.reload();
        return;
      }
    }
    setTimeout(pollHotline, HOTLINE_POLL_MS);
  }

  function renderChannel(c) {
    const el = $("channel");
    if (c.parties) {
      const names = Object.entries(c.parties);
      const up = names.filter(([, v]) => v).map(([n]) => n);
      const down = names.filter(([, v]) => !v).map(([n]) => n);
      el.textContent =
        "primary relay: " +
        (up.length ? `${up.join(", ")} connected` : "no client connected") +
        (down.length ? `; ${down.join(", ")} not connected (backup channel or offline)` : "");
      el.className = down.length ? "down" : "up";
      return;
    }
    const since = c.since ? ` since ${new Date(c.since * 1000).toISOString().slice(11, 19)}Z` : "";
    el.textContent = c.connected
      ? `primary channel up (broker relay)${since}`
      : `primary not connected${since}: on the backup channel, or offline`;
    el.className = c.connected ? "up" : "down";
  }

  function renderOverdue(rows) {
    const items = rows.slice(0, 20).map((o) =>
      li("overdue", `${o.sender} → ${o.to}: ${o.body}`, [
        `overdue ${Math.round(o.overdue_s)} s${o.escalated ? " · escalated" : ""}`,
      ]),
    );
    if (!items.length) items.push(li("", "none", []));
    $("overdue").replaceChildren(...items);
  }

  function renderMessages(rows) {
    const items = rows.map((r) => {
      const m = r.message;
      return li(m.kind === "distress" ? "distress" : "", `${m.kind} · ${m.sender} → ${m.to}`, [
        m.body,
        new Date(r.received_at * 1000).toISOString().slice(11, 19) + "Z",
      ]);
    });
    if (!items.length) items.push(li("", "none yet", []));
    $("messages").replaceChildren(...items);
  }

  // ---- go ----
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) start(saved);
  else showLogin();
})();
