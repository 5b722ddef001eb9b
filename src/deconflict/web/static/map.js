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
    parties: [], // admin: every party's name, for edge colours
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
      basemap: ["coastlines", "borders"].every((id) => !!map && !!map.getSource(id) && map.isSourceLoaded(id)),
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

  // ---- aircraft and trails: one WebGL layer, typed arrays, one upload per picture ----
  // MapLibre's GeoJSON sources re-tile every feature in a worker on each setData; for
  // thousands of aircraft moving every second that costs more than drawing them. This
  // layer keeps positions in Float32Arrays (Web Mercator, 0..1) and draws arrowheads
  // rotated by track (and trails as line segments) straight from them.
  const ARROW = [
    // tip, right, notch, left (CSS px, y up): two triangles.
    [0, 11], [8, -9], [0, -4],
    [0, 11], [0, -4], [-8, -9],
  ];
  const VS_ARROW = `
    attribute vec2 a_pos; attribute vec2 a_off; attribute float a_angle; attribute vec3 a_colour;
    uniform mat4 u_matrix; uniform vec2 u_px;
    varying vec3 v_colour;
    void main() {
      float c = cos(a_angle), s = sin(a_angle);
      vec2 o = vec2(a_off.x * c + a_off.y * s, -a_off.x * s + a_off.y * c);
      vec4 p = u_matrix * vec4(a_pos, 0.0, 1.0);
      p.xy += o * u_px * p.w;
      gl_Position = p;
      v_colour = a_colour;
    }`;
  const FS_ARROW = `
    precision mediump float; varying vec3 v_colour;
    void main() { gl_FragColor = vec4(v_colour, 1.0); }`;
  const VS_LINE = `
    attribute vec2 a_pos; uniform mat4 u_matrix;
    void main() { gl_Position = u_matrix * vec4(a_pos, 0.0, 1.0); }`;
  const FS_LINE = `
    precision mediump float; uniform vec4 u_colour;
    void main() { gl_FragColor = u_colour; }`;

  const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const mercX = (lon) => (lon + 180) / 360;
  const mercY = (lat) => {
    const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  };

  function program(gl, vs, fs) {
    const p = gl.createProgram();
    for (const [type, src] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
      const sh = gl.createShader(type);
      gl.shaderSource(sh, src);
      gl.compileShader(sh);
      if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh));
      gl.attachShader(p, sh);
    }
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
    return p;
  }

  function aircraftLayer() {
    // Arrow vertices: pos(2) off(2) angle(1) colour(3) = 8 floats; trails: pos(2).
    const layer = {
      id: "aircraft",
      type: "custom",
      renderingMode: "2d",
      arrows: new Float32Array(0),
      arrowCount: 0,
      lines: new Float32Array(0),
      lineCount: 0,
      dirtyArrows: false,
      dirtyLines: false,
      cycle: null, // the picture in the arrays, drawn at the next render
      onAdd(m, gl) {
        this.gl = gl;
        this.arrowProg = program(gl, VS_ARROW, FS_ARROW);
        this.lineProg = program(gl, VS_LINE, FS_LINE);
        this.arrowBuf = gl.createBuffer();
        this.lineBuf = gl.createBuffer();
        this.loc = {};
        for (const n of ["a_pos", "a_off", "a_angle", "a_colour"]) this.loc[n] = gl.getAttribLocation(this.arrowProg, n);
        this.loc.u_matrix = gl.getUniformLocation(this.arrowProg, "u_matrix");
        this.loc.u_px = gl.getUniformLocation(this.arrowProg, "u_px");
        this.loc.l_pos = gl.getAttribLocation(this.lineProg, "a_pos");
        this.loc.l_matrix = gl.getUniformLocation(this.lineProg, "u_matrix");
        this.loc.l_colour = gl.getUniformLocation(this.lineProg, "u_colour");
      },
      render(gl, args) {
        const matrix = args.defaultProjectionData.mainMatrix;
        if (this.dirtyLines) {
          gl.bindBuffer(gl.ARRAY_BUFFER, this.lineBuf);
          gl.bufferData(gl.ARRAY_BUFFER, this.lines.subarray(0, this.lineCount * 2), gl.DYNAMIC_DRAW);
          this.dirtyLines = false;
        }
        if (this.dirtyArrows) {
          gl.bindBuffer(gl.ARRAY_BUFFER, this.arrowBuf);
          gl.bufferData(gl.ARRAY_BUFFER, this.arrows.subarray(0, this.arrowCount * 8), gl.DYNAMIC_DRAW);
          this.dirtyArrows = false;
        }
        gl.enable(gl.BLEND);
        gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
        if (this.lineCount) {
          gl.useProgram(this.lineProg);
          gl.uniformMatrix4fv(this.loc.l_matrix, false, matrix);
          gl.uniform4f(this.loc.l_colour, 0.5 * 0.45, 0.65 * 0.45, 0.79 * 0.45, 0.45);
          gl.bindBuffer(gl.ARRAY_BUFFER, this.lineBuf);
          gl.enableVertexAttribArray(this.loc.l_pos);
          gl.vertexAttribPointer(this.loc.l_pos, 2, gl.FLOAT, false, 8, 0);
          gl.drawArrays(gl.LINES, 0, this.lineCount);
          gl.disableVertexAttribArray(this.loc.l_pos);
        }
        if (this.arrowCount) {
          gl.useProgram(this.arrowProg);
          gl.uniformMatrix4fv(this.loc.u_matrix, false, matrix);
          const c = map.getCanvas();
          gl.uniform2f(this.loc.u_px, 2 / c.clientWidth, 2 / c.clientHeight);
          gl.bindBuffer(gl.ARRAY_BUFFER, this.arrowBuf);
          const L = this.loc;
          const attrs = [[L.a_pos, 2, 0], [L.a_off, 2, 8], [L.a_angle, 1, 16], [L.a_colour, 3, 20]];
          for (const [loc, size, offset] of attrs) {
            gl.enableVertexAttribArray(loc);
            gl.vertexAttribPointer(loc, size, gl.FLOAT, false, 32, offset);
          }
          gl.drawArrays(gl.TRIANGLES, 0, this.arrowCount);
          for (const [loc] of attrs) gl.disableVertexAttribArray(loc);
        }
        if (this.cycle) {
          drawn(this.cycle);
          this.cycle = null;
        }
      },
      setAircraft(list, cycle) {
        // list: [{lon, lat, trk, fill: [r,g,b], edge: [r,g,b]}]; the edge is drawn first, larger.
        const need = list.length * ARROW.length * 2 * 8;
        if (this.arrows.length < need) this.arrows = new Float32Array(need * 1.5);
        const a = this.arrows;
        let k = 0;
        for (const pass of [0, 1]) {
          const scale = pass === 0 ? 1.45 : 1;
          for (const ac of list) {
            const x = mercX(ac.lon);
            const y = mercY(ac.lat);
            const ang = (ac.trk * Math.PI) / 180;
            const col = pass === 0 ? ac.edge : ac.fill;
            for (const [dx, dy] of ARROW) {
              a[k++] = x; a[k++] = y; a[k++] = dx * scale; a[k++] = dy * scale; a[k++] = ang;
              a[k++] = col[0]; a[k++] = col[1]; a[k++] = col[2];
            }
          }
        }
        this.arrowCount = k / 8;
        this.dirtyArrows = true;
        this.cycle = cycle;
        map.triggerRepaint();
      },
      setTrails(trails) {
        let n = 0;
        for (const t of trails) n += Math.max(0, t.length - 1) * 2;
        if (this.lines.length < n * 2) this.lines = new Float32Array(n * 3);
        const l = this.lines;
        let k = 0;
        for (const t of trails) {
          for (let j = 1; j < t.length; j++) {
            l[k++] = mercX(t[j - 1][0]); l[k++] = mercY(t[j - 1][1]);
            l[k++] = mercX(t[j][0]); l[k++] = mercY(t[j][1]);
          }
        }
        this.lineCount = k / 2;
        this.dirtyLines = true;
        map.triggerRepaint();
      },
    };
    return layer;
  }
    const FILL = Object.fromEntries(LEVELS.map((l) => [l, rgb(COLOURS[l])]));
  const PARTY_RGB = PARTY_COLOURS.map(rgb);
  const EDGE = rgb("#05090d");
  let glLayer = null;

  function drawn(done) {
    // A picture's arrowheads were just drawn: time it.
    state.drawnCycle = done.cycle;
    state.timings.push({ ...done, drawn_ms: nowMs() });
    if (state.timings.length > 20000) state.timings.splice(0, 10000);
  }

  function aircraftAt(point) {
    // The aircraft drawn nearest to a screen point (within 14 px), by its key.
    let best = null;
    let bestD = 14 * 14;
    for (const [k, ac] of state.aircraft) {
      const p = map.project([ac.lon, ac.lat]);
      const d = (p.x - point.x) ** 2 + (p.y - point.y) ** 2;
      if (d < bestD) [best, bestD] = [k, d];
    }
    return best;
  }

  function startMap() {
    map = new maplibregl.Map({
      container: "map",
      center: [38.5, 35.0],
      zoom: 5.2,
      attributionControl: false,
      fadeDuration: 0, // no symbol fade: one render per update, not an animation
      style: {
        version: 8,
        sources: {
          coastlines: { type: "geojson", data: abs("/map/basemap/coastlines.geojson") },
          borders: { type: "geojson", data: abs("/map/basemap/borders.geojson") },
          zones: { type: "geojson", data: EMPTY },
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
        ],
      },
    });
    map.on("error", (e) => console.error(`map: ${e.error ? e.error.message : e}`));
    glLayer = aircraftLayer();
    map.on("style.load", () => map.addLayer(glLayer));
    // The feed does not wait for the basemap: flush() draws once the style is ready.
    loadZones();
    loadAlerts().then(connect);
    pollHotline();
    map.on("click", (e) => {
      const k = aircraftAt(e.point);
      if (k) return showPopup("aircraft", { k }, e.lngLat);
      for (const layer of ["intruders", "zones-fill"]) {
        const [f] = map.queryRenderedFeatures(e.point, { layers: [layer] });
        if (f) return showPopup(layer, f.properties, e.lngLat);
      }
    });
    for (const layer of ["intruders", "zones-fill"]) {
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

  // Flow control: the broker sends the next (newest) picture once this one is taken.
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
    if (!map || !glLayer || !glLayer.gl || !map.getSource("intruders")) {
      setTimeout(schedule, 50); // the style (or the aircraft layer) is not ready yet
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
    const list = [];
    for (const [k, ac] of state.aircraft) {
      list.push({
        lon: ac.lon,
        lat: ac.lat,
        trk: ac.track_deg,
        fill: FILL[LEVELS[lv.get(k) ?? 0]],
        edge: state.admin ? PARTY_RGB[partyIndex(ac.party)] : EDGE,
      });
    }
    const done = frame
      ? { cycle: frame.cycle, at_s: frame.at_s, received_ms: frame.received_ms, build_ms: performance.now() - t0 }
      : null;
    glLayer.setAircraft(list, done);
    // The picture is taken: ask for the next now, so that it travels while this one is
    // drawn (still one in flight; a page that draws slower keeps only the newest).
    if (frame) sendReady(frame.cycle);
    if (state.trailsDirty) {
      state.trailsDirty = false; // trails change once a second at most
      glLayer.setTrails([...state.trails.values()]);
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
      { padding: { top: 60, bottom: 50, left: 30, right: 350 }, maxZoom: 6, animate: false },
    );
  }

  function partyIndex(name) {
    const i = state.parties.indexOf(name);
    return (i < 0 ? 0 : i) % PARTY_COLOURS.length;
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
      el.dataset.key = keyFor(a.party, a.own_id);
      return el;
    });
    $("alerts").replaceChildren(...items);
  }

  // One handler for the list (its items are rebuilt as alerts change): fly to the aircraft.
  $("alerts").addEventListener("pointerdown", (ev) => {
    const item = ev.target.closest("li");
    const ac = item && state.aircraft.get(item.dataset.key);
    if (ac) map.jumpTo({ center: [ac.lon, ac.lat], zoom: Math.max(map.getZoom(), 7) });
  });

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

  function showPopup(layer, props, lngLat) {
    const f = { properties: props };
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
    new maplibregl.Popup({ closeButton: true, maxWidth: "320px" }).setLngLat(lngLat).setDOMContent(box).addTo(map);
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
      el.className = up.length && !down.length ? "up" : "down";
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

  // A hotline client's automatic delivery receipt is an ack whose body is {"acks": [ids]}:
  // shown as a receipt, not as the raw JSON (a person's ack keeps its text).
  function messageText(m) {
    if (m.kind !== "ack") return m.body;
    try {
      const parsed = JSON.parse(m.body);
      if (parsed && Array.isArray(parsed.acks)) {
        const n = parsed.acks.length;
        return `delivery receipt for ${n} message${n === 1 ? "" : "s"}`;
      }
    } catch (_) {
      // not JSON: a person's acknowledgement
    }
    return m.body;
  }

  function renderMessages(rows) {
    const items = rows.map((r) => {
      const m = r.message;
      return li(m.kind === "distress" ? "distress" : "", `${m.kind} · ${m.sender} → ${m.to}`, [
        messageText(m),
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
