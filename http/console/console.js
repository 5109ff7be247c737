"use strict";
// The payengine console: one page over the admin API. It keeps no state of
// its own beyond this tab: the actor tree, the charts and the order table
// are fed by GET /admin/stream; lists and details are read on demand.
(() => {
  const TOKEN_KEY = "payengine.admin_token";
  const ORDERS_MAX = 400;    // order rows remembered
  const ORDERS_SHOWN = 60;   // order rows drawn
  const FEED_MAX = 150;      // live events kept in the feed
  const HISTORY = 120;       // chart points (one per second)
  const STALL_MS = 15000;    // no frame for this long: reconnect

  const $ = (selector) => document.querySelector(selector);
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let stream = null;         // the AbortController of the running stream
  let streamGeneration = 0;  // a newer login ends an older stream loop
  let lastFrameAt = 0;
  let statsTicks = 0;
  let selectedOrder = "";
  let notifStatus = "pending";
  let renderQueued = false;
  const orders = new Map();  // order id -> what the stream told of it
  const series = { rps: [], tps: [], p50: [], p99: [] };

  // --- DOM helpers (no innerHTML: texts from the engine stay texts) -------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const statusPill = (s) => h("span", { class: "status " + (s || "") }, s || "…");

  // Money is minor units: formatted with integer arithmetic, never floats.
  const EXPONENTS = { JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, UGX: 0, BHD: 3, KWD: 3, OMR: 3, JOD: 3, TND: 3 };
  function money(amount, currency) {
    if (amount === undefined || amount === null || !currency) return "";
    const exp = EXPONENTS[currency] ?? 2;
    const digits = String(Math.abs(amount)).padStart(exp + 1, "0");
    const whole = exp ? digits.slice(0, -exp) + "." + digits.slice(-exp) : digits;
    return (amount < 0 ? "-" : "") + whole + " " + currency;
  }
  const fixed = (x, d) => (typeof x === "number" && isFinite(x) ? x.toFixed(d) : "–");
  const timeOf = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "–");
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // --- the admin API ------------------------------------------------------
  async function api(path, options = {}) {
    const headers = { Authorization: "Bearer " + token, Accept: "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { ...options, headers, cache: "no-store" });
    if (res.status === 401) {
      logout("The admin token was refused.");
      throw new Error("unauthorized");
    }
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = { raw: text }; }
    if (!res.ok) throw new Error(body && body.error ? body.error.message : "HTTP " + res.status);
    return body;
  }

  // --- login --------------------------------------------------------------
  async function login(candidate) {
    token = candidate;
    $("#login-error").textContent = "";
    try {
      await api("/admin/actors?limit=1");
    } catch (e) {
      token = "";
      $("#login-error").textContent = e.message === "unauthorized" ? "That token was refused." : e.message;
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $("#login").hidden = true;
    $("#app").hidden = false;
    $("#logout").hidden = false;
    resync();
    loadNotifications();
    loadLedger();
    runStream();
  }

  function logout(message) {
    token = "";
    streamGeneration++;
    sessionStorage.removeItem(TOKEN_KEY);
    if (stream) stream.abort();
    stream = null;
    setStreamState("offline");
    $("#app").hidden = true;
    $("#logout").hidden = true;
    $("#login").hidden = false;
    $("#login-error").textContent = message || "";
  }

  // --- the stream ---------------------------------------------------------
  function setStreamState(state) {
    const el = $("#stream-state");
    el.dataset.state = state;
    el.textContent = state === "live" ? "live" : state === "connecting" ? "connecting…" : "offline";
  }

  async function runStream() {
    const generation = ++streamGeneration;
    let backoff = 1000;
    while (token && generation === streamGeneration) {
      const controller = new AbortController();
      stream = controller;
      setStreamState("connecting");
      try {
        const res = await fetch("/admin/stream", {
          headers: { Authorization: "Bearer " + token, Accept: "text/event-stream" },
          signal: controller.signal, cache: "no-store",
        });
        if (res.status === 401) return logout("The admin token was refused.");
        if (!res.ok || !res.body) throw new Error("stream answered " + res.status);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        lastFrameAt = Date.now();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            lastFrameAt = Date.now();
            backoff = 1000;
            onBlock(block);
          }
        }
      } catch (e) {
        if (stream !== controller) return; // logged out or replaced
      }
      if (!token || generation !== streamGeneration) return;
      setStreamState("offline");
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 10000);
    }
  }

  // A stream that went quiet (a proxy, a sleeping laptop) is replaced.
  setInterval(() => {
    if (stream && token && Date.now() - lastFrameAt > STALL_MS) {
      lastFrameAt = Date.now();
      stream.abort();
    }
  }, 1000);

  function onBlock(block) {
    let event = "message";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data += line.slice(5).trim();
    }
    if (!data) return;
    let msg;
    try { msg = JSON.parse(data); } catch (e) { return; }
    if (event === "hello") { setStreamState("live"); resync(); }
    else if (event === "stats") onStats(msg);
    else if (event === "transition" || event === "lifecycle") onActorEvent(msg);
    else if (event === "dropped") { addFeed({ type: "dropped", at: new Date().toISOString(), reason: msg.count + " events lost (slow tab); resynced" }); resync(); }
  }

  // --- stats: KPIs, charts, tree, breakers ---------------------------------
  function push(list, value) {
    list.push(value);
    if (list.length > HISTORY) list.shift();
  }

  function onStats(s) {
    push(series.rps, s.http.requests_per_s);
    push(series.tps, s.transitions_per_s);
    push(series.p50, s.http.p50_ms);
    push(series.p99, s.http.p99_ms);
    const tree = s.tree || {};
    const shards = tree.registry_shards || [];
    const live = shards.reduce((n, x) => n + x.live, 0);
    const insp = tree.inspector || {};
    const notifier = tree.notifier || {};
    const gateways = tree.gateways || [];
    $("#kpi-rps").textContent = fixed(s.http.requests_per_s, 0);
    $("#kpi-latency").textContent = fixed(s.http.p50_ms, 1) + " / " + fixed(s.http.p99_ms, 1) + " ms";
    $("#kpi-tps").textContent = fixed(s.transitions_per_s, 0);
    $("#kpi-live").textContent = String(live);
    $("#kpi-crashes").textContent = (insp.crashes ?? "–") + " / " + (insp.restarts ?? "–");
    $("#kpi-queue").textContent = notifier.queue_depth ?? "–";
    $("#kpi-dead").textContent = notifier.dead_letters ?? "–";
    const relay = tree.event_relay;
    $("#kpi-events").textContent = relay ? `${relay.unpublished} · ${fixed(relay.lag_s, 1)} s` : "no broker";
    $("#kpi-circuit").replaceChildren(...(gateways.length ? gateways.map((g) => statusPill(g.circuit)) : ["no channel"]));
    const front = tree.http_front || {};
    const shed = front.shed || {};
    $("#kpi-connections").textContent = front.connections ?? "–";
    $("#kpi-admission").textContent = (front.inflight ?? "–") + " / " + (front.limit ?? "–");
    if (front.room)
      $("#kpi-admission").title = "room: new orders " + front.room.new_work + ", work on existing orders "
        + front.room.normal + ", channel notifications " + front.room.critical;
    $("#kpi-shed").textContent = [shed.overload, shed.merchant_rate, shed.connections]
      .map((n) => n ?? "–").join(" / ");
    const reads = front.read_cache;
    $("#kpi-read-cache").textContent = reads
      ? `${reads.entries} / ${reads.capacity} · ${reads.hits + reads.misses ? Math.round((100 * reads.hits) / (reads.hits + reads.misses)) : 0} %`
      : "–";
    if (reads)
      $("#kpi-read-cache").title = `hits ${reads.hits}, misses ${reads.misses}, evicted ${reads.evictions}`;
    const timer = tree.request_timer;
    $("#kpi-deadlines").textContent = timer ? `${timer.pending} · ${timer.fired}` : "–";
    const askers = front.askers;
    $("#kpi-askers").textContent = askers ? `${askers.count} · ${askers.pending}` : "–";
    $("#clock").textContent = new Date(s.at).toLocaleTimeString();
    drawChart($("#chart-throughput"), [
      { label: "HTTP requests/s", color: "#58a6ff", data: series.rps },
      { label: "transitions/s", color: "#3fb950", data: series.tps },
    ]);
    drawChart($("#chart-latency"), [
      { label: "p50 ms", color: "#d29922", data: series.p50 },
      { label: "p99 ms", color: "#f85149", data: series.p99 },
    ]);
    renderTree(tree);
    renderBreakers(gateways);
    document.body.dataset.statsFrames = String(++statsTicks);
    if (statsTicks % 5 === 0) { loadNotifications(); loadLedger(); }
  }

  function drawChart(canvas, lines) {
    const dpr = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 400;
    const height = 180;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.height = height + "px";
    const g = canvas.getContext("2d");
    g.scale(dpr, dpr);
    g.clearRect(0, 0, width, height);
    const pad = { l: 44, r: 8, t: 22, b: 16 };
    const max = niceCeiling(Math.max(1, ...lines.flatMap((l) => l.data)));
    g.font = "11px system-ui, sans-serif";
    g.strokeStyle = "#27303a";
    g.fillStyle = "#7d8a97";
    for (let i = 0; i <= 4; i++) {
      const y = pad.t + ((height - pad.t - pad.b) * i) / 4;
      g.beginPath(); g.moveTo(pad.l, y); g.lineTo(width - pad.r, y); g.stroke();
      g.fillText(formatAxis(max - (max * i) / 4), 4, y + 4);
    }
    const plotW = width - pad.l - pad.r;
    const plotH = height - pad.t - pad.b;
    let legendX = pad.l;
    for (const line of lines) {
      g.strokeStyle = line.color;
      g.lineWidth = 1.6;
      g.beginPath();
      line.data.forEach((v, i) => {
        const x = pad.l + (plotW * (i + HISTORY - line.data.length)) / (HISTORY - 1);
        const y = pad.t + plotH - (plotH * v) / max;
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
      const last = line.data.length ? line.data[line.data.length - 1] : 0;
      const label = line.label + " " + formatAxis(last);
      g.fillStyle = line.color;
      g.fillRect(legendX, 6, 10, 3);
      g.fillStyle = "#d7dde4";
      g.fillText(label, legendX + 14, 11);
      legendX += g.measureText(label).width + 30;
    }
  }
  function niceCeiling(x) {
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 2.5, 5, 10]) if (x <= m * p) return m * p;
    return 10 * p;
  }
  const formatAxis = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

  function node(name, kind, facts, children) {
    return h("li", { "data-actor": name, "data-kind": kind },
      h("span", { class: "name" }, name), h("span", { class: "facts" }, facts),
      children && children.length ? h("ul", {}, children) : null);
  }

  function renderTree(tree) {
    const sup = tree.supervisor || { id: "engine" };
    const kids = [];
    for (const s of tree.registry_shards || [])
      kids.push(node(s.id, s.kind, `live ${s.live}/${s.live_max} · activations ${s.activations} · passivations ${s.passivations} · idle asks ${s.idle_asks} (≤${s.idle_sweep_batch}/tick) · restarts ${s.restarts} · mailbox ${s.mailbox_depth}`));
    for (const w of tree.storage_writers || [])
      kids.push(node(w.id, w.kind, `${w.connected ? "connected" : "DISCONNECTED"} · batches ${w.batches} · mean batch ${fixed(w.mean_batch_size, 1)} · max ${w.max_batch_size} · last commit ${(w.last_commit_us / 1000).toFixed(1)} ms · mailbox ${w.mailbox_depth}`));
    for (const g of tree.gateways || [])
      kids.push(node(g.id, g.kind, [statusPill(g.circuit), ` tokens ${fixed(g.rate_tokens, 0)} · in flight ${g.in_flight} · p50 ${g.p50_latency_ms} ms · p99 ${g.p99_latency_ms} ms`]));
    const n = tree.notifier;
    if (n) {
      const workers = n.delivery_workers || {};
      kids.push(node(n.id, n.kind, `queue ${n.queue_depth} · next attempt ${timeOf(n.next_attempt_at)} · waiting ${n.waiting} · delivered ${n.delivered} · dead ${n.dead_letters}`,
        [node("delivery workers (webhook, sms)", "delivery_worker", `${workers.busy}/${workers.count} busy`)]));
    }
    const wr = tree.wallets;
    if (wr) kids.push(node(wr.id, wr.kind, `live wallets ${wr.live} · operations ${wr.operations} · writes ${wr.writes} · max batch ${wr.max_batch} · queued ${wr.queued} · conflicts ${wr.conflicts} · expired reservations ${wr.expired_reservations}`));
    const r = tree.event_relay;
    if (r) kids.push(node(r.id, r.kind, `${r.connected ? "connected" : "DISCONNECTED"} ${r.broker} · unpublished ${r.unpublished} · lag ${fixed(r.lag_s, 1)} s · in flight ${r.in_flight}/${r.in_flight_max} · published ${r.published}`
      + (r.last_error && !r.connected ? ` · ${r.last_error}` : "")));
    const fc = tree.fulfillment_consumer;
    if (fc) kids.push(node(fc.id, fc.kind, `${fc.connected ? "connected" : "DISCONNECTED"} ${fc.queue} · unacked ${fc.unacked}/${fc.prefetch} · applied ${fc.applied} · duplicates ${fc.duplicates} · dead-lettered ${fc.dead_lettered} · requeued ${fc.requeued}`));
    const i = tree.inspector;
    if (i) kids.push(node(i.id, i.kind, `stream clients ${i.stream_clients} · dropped ${i.stream_dropped} · transitions ${i.transitions}`));
    const roles = { expiry_sweeper: "expires orders whose actors are passivated", reconciler: "queries trades stuck on the channel" };
    for (const s of tree.sweepers || [])
      kids.push(node(s.id, s.kind, `${roles[s.kind] || ""} · every ${s.interval_ms} ms`));
    const supFacts = `top supervisor · ${sup.strategy || "one_for_all"} · restarts ${sup.restarts || 0}`
      + (sup.last_child ? ` · last: ${sup.last_child} at ${timeOf(sup.last_restart_at)}` : "")
      + (sup.gave_up ? " · GAVE UP: the engine is down" : "");
    $("#tree").replaceChildren(node(sup.id, sup.kind, supFacts, kids));
  }

  function renderBreakers(gateways) {
    const rows = gateways.map((g) => h("tr", { "data-channel": g.channel, "data-circuit": g.circuit },
      h("td", {}, g.channel), h("td", {}, statusPill(g.circuit)), h("td", {}, g.consecutive_failures + " in a row"),
      h("td", {}, fixed(g.rate_tokens, 0)), h("td", {}, g.in_flight),
      h("td", {}, g.p50_latency_ms + " / " + g.p99_latency_ms + " ms"), h("td", {}, g.rejected_fast)));
    $("#breakers tbody").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7 }, "no channel configured"))]));
  }

  // --- order actors -------------------------------------------------------
  function upsertOrder(id, patch) {
    const o = orders.get(id) || { id, status: "", version: 0, restarts: 0, live: true };
    Object.assign(o, patch, { touched: Date.now() });
    // The map's order is the order of the last touch: the first is the oldest.
    orders.delete(id);
    orders.set(id, o);
    if (orders.size > ORDERS_MAX) orders.delete(orders.keys().next().value);
    queueRender();
  }

  function onActorEvent(e) {
    addFeed(e);
    if (!e.order_id) { // the engine's own actors: the supervisor restarted them
      if (e.type === "restart") resync();
      return;
    }
    const o = orders.get(e.order_id) || {};
    switch (e.type) {
      case "spawn": upsertOrder(e.order_id, { live: true, actor_id: e.actor_id }); break;
      case "restart": upsertOrder(e.order_id, { live: true, actor_id: e.actor_id, restarts: (o.restarts || 0) + 1, flash: true }); break;
      case "crash": upsertOrder(e.order_id, { live: false, last_reason: e.reason, flash: true }); break;
      case "passivate": upsertOrder(e.order_id, { live: false }); break;
      case "transition": upsertOrder(e.order_id, { status: e.to, version: e.version, amount: e.amount, currency: e.currency, flash: true }); break;
      case "event": upsertOrder(e.order_id, { version: e.version }); break;
    }
    if (e.order_id && e.order_id === selectedOrder) refreshDetailSoon();
  }

  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; renderOrders(); });
  }

  // Rows are kept per order and updated in place, so a button under the
  // pointer stays the same element; while the pointer is over the table the
  // row order holds still (contents still update).
  const rowsById = new Map();
  let pointerOverOrders = false;

  function orderRow(o) {
    let r = rowsById.get(o.id);
    if (r) return r;
    const cells = Array.from({ length: 8 }, () => h("td"));
    cells[0].className = "id";
    cells[0].append(h("a", { href: "#", on: { click: (ev) => { ev.preventDefault(); showOrder(o.id); } } }, o.id));
    const kill = h("button", { class: "small danger", "data-kill": o.id, on: { click: () => killActor(o.id) } }, "kill");
    cells[7].append(kill);
    r = { tr: h("tr", { "data-order": o.id }, cells), cells, kill, rendered: "", o };
    rowsById.set(o.id, r);
    return r;
  }

  function updateRow(r, o) {
    r.o = o;
    const key = [o.status, o.version, o.amount, o.currency, o.live, o.actor_id, o.restarts, o.touched].join("|");
    if (r.rendered === key) return;
    r.rendered = key;
    const tr = r.tr;
    tr.dataset.status = o.status;
    tr.dataset.restarts = String(o.restarts || 0);
    tr.dataset.live = o.live ? "true" : "false";
    tr.className = o.live ? "" : "gone";
    if (o.flash) { void tr.offsetWidth; tr.className = "flash"; o.flash = false; }
    r.cells[1].replaceChildren(statusPill(o.status));
    r.cells[2].textContent = o.version || "";
    r.cells[3].textContent = money(o.amount, o.currency);
    r.cells[4].textContent = o.live ? "#" + (o.actor_id || "?") : "passivated";
    r.cells[5].textContent = String(o.restarts || 0);
    r.cells[5].title = o.last_reason || "";
    r.cells[6].textContent = new Date(o.touched).toLocaleTimeString();
    r.kill.hidden = !o.live;
  }

  function renderOrders() {
    const tbody = $("#orders tbody");
    let shown;
    if (pointerOverOrders && tbody.querySelector("tr[data-order]")) {
      // Rows forgotten meanwhile (ORDERS_MAX) keep their last state.
      shown = [...tbody.querySelectorAll("tr[data-order]")].map((tr) => orders.get(tr.dataset.order) || rowsById.get(tr.dataset.order).o);
    } else {
      shown = [...orders.values()].slice(-ORDERS_SHOWN).reverse();
    }
    const rows = shown.map((o) => { const r = orderRow(o); updateRow(r, o); return r.tr; });
    const kept = new Set(shown.map((o) => o.id));
    for (const id of rowsById.keys()) if (!orders.has(id) && !kept.has(id)) rowsById.delete(id);
    const current = [...tbody.children];
    const same = current.length === rows.length && current.every((tr, i) => tr === rows[i]);
    if (!same) tbody.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 8, class: "muted" }, "no live order actors yet"))]));
  }

  async function killActor(id) {
    try {
      await api("/admin/actors/" + encodeURIComponent(id) + "/kill", { method: "POST", body: "{}" });
    } catch (e) {
      addFeed({ type: "error", order_id: id, at: new Date().toISOString(), reason: "kill: " + e.message });
    }
  }

  /// The actors live now, from the admin API (start-up, after a gap).
  async function resync() {
    try {
      const tree = await api("/admin/actors?limit=200");
      for (const a of tree.orders || []) {
        const patch = { live: a.live, actor_id: a.actor_id, restarts: a.restarts, last_reason: a.last_restart_reason };
        if (a.status) Object.assign(patch, { status: a.status, version: a.version });
        upsertOrder(a.id, patch);
      }
    } catch (e) { /* the stream retries */ }
  }

  // --- live events --------------------------------------------------------
  function addFeed(e) {
    let text;
    if (e.type === "transition") text = `${e.event}  ${e.from || "∅"} → ${e.to}  v${e.version}  ${money(e.amount, e.currency)}`;
    else if (e.type === "event") text = `${e.event}  v${e.version}`;
    else text = e.reason || "";
    const li = h("li", { "data-type": e.type, "data-order": e.order_id || "" },
      h("span", { class: "muted" }, timeOf(e.at), " "),
      h("span", { class: "kind " + e.type }, e.type), " ",
      e.order_id ? h("a", { href: "#", class: "id", on: { click: (ev) => { ev.preventDefault(); showOrder(e.order_id); } } }, e.order_id)
                 : e.actor ? h("strong", { "data-actor": e.actor }, e.actor) : null,
      " ", text);
    const feed = $("#feed");
    feed.prepend(li);
    while (feed.children.length > FEED_MAX) feed.lastChild.remove();
  }

  // --- notifications ------------------------------------------------------
  async function loadNotifications() {
    let list;
    try { list = await api("/admin/notifications?limit=50&status=" + notifStatus); } catch (e) { return; }
    const rows = (list.data || []).map((n) => h("tr", { "data-notification": n.id, "data-status": n.status },
      h("td", { class: "id", title: n.id }, n.id.slice(0, 14) + "…"),
      h("td", {}, n.event_type, " ", h("a", { href: "#", class: "id", on: { click: (ev) => { ev.preventDefault(); showOrder(n.order_id); } } }, n.order_id.slice(0, 12) + "…")),
      h("td", {}, n.kind),
      h("td", {}, n.attempts),
      h("td", { title: n.last_error || "" }, n.last_status ?? "–", n.last_error ? " · " + n.last_error.slice(0, 40) : ""),
      h("td", {}, n.status === "pending" ? timeOf(n.next_attempt_at) : statusPill(n.status)),
      h("td", {}, n.status !== "pending" ? h("button", { class: "small", "data-redeliver": n.id, on: { click: () => redeliver(n.id) } }, "redeliver") : "")));
    $("#notifications tbody").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "muted" }, "none " + notifStatus))]));
  }

  // --- wallets and the ledger ------------------------------------------------
  async function loadLedger() {
    let l;
    try { l = await api("/admin/ledger?recent=12"); } catch (e) { return; }
    $("#ledger-totals").replaceChildren(
      statusPill(l.balanced ? "balanced" : "UNBALANCED"),
      ` ${l.accounts} accounts · ${l.wallets} wallets · ${l.transfers} transfers · debits posted ${l.debits_posted} = credits posted ${l.credits_posted} · pending ${l.debits_pending} / ${l.credits_pending}`);
    const wallets = (l.recent_wallets || []).map((w) => h("tr", { "data-wallet": w.id },
      h("td", { class: "id", title: w.id }, w.id.slice(0, 14) + "…"),
      h("td", {}, w.customer_ref),
      h("td", {}, money(w.balance.posted, w.currency)),
      h("td", {}, money(w.balance.pending, w.currency)),
      h("td", {}, money(w.balance.available, w.currency))));
    $("#wallets tbody").replaceChildren(...(wallets.length ? wallets : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "no wallets yet"))]));
    const transfers = (l.recent_transfers || []).map((t) => h("tr", { "data-transfer": t.id },
      h("td", { class: "id", title: t.id }, t.id.slice(0, 14) + "…"),
      h("td", {}, t.type),
      h("td", {}, t.phase),
      h("td", {}, money(t.amount, t.currency)),
      h("td", { class: "muted" }, t.debit_account.slice(0, 16) + " → " + t.credit_account.slice(0, 16))));
    $("#transfers tbody").replaceChildren(...(transfers.length ? transfers : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "no transfers yet"))]));
  }

  async function redeliver(id) {
    try {
      await api("/admin/notifications/" + encodeURIComponent(id) + "/redeliver", { method: "POST", body: "{}" });
    } catch (e) {
      addFeed({ type: "error", at: new Date().toISOString(), reason: "redeliver: " + e.message });
    }
    loadNotifications();
  }

  // --- order search and timeline ------------------------------------------
  let detailTimer = null;
  function refreshDetailSoon() {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(() => showOrder(selectedOrder), 150);
  }

  async function showOrder(id) {
    id = (id || "").trim();
    if (!id) return;
    selectedOrder = id;
    $("#search").value = id;
    const box = $("#order-detail");
    let d;
    try {
      d = await api("/admin/orders/" + encodeURIComponent(id));
    } catch (e) {
      box.replaceChildren(h("p", { class: "error" }, e.message));
      return;
    }
    if (id !== selectedOrder) return;
    const o = d.stored;
    const a = d.actor;
    const facts = [
      ["status", statusPill(o.status)], ["amount", money(o.amount, o.currency)],
      ["refunded", money(o.amount_refunded, o.currency)], ["merchant order", o.merchant_order_no],
      ["version", o.version], ["channel trade", (o.payment && o.payment.channel_trade_no) || "–"],
      ["fulfillment", o.fulfillment ? o.fulfillment.stage : "–"], ["expires", new Date(o.expires_at).toLocaleString()],
      ["actor", a && a.live ? `live #${a.actor_id || "?"} · idle ${a.idle_ms} ms · restarts ${a.restarts}` : `passivated · restarts ${a ? a.restarts : 0}`],
    ];
    const timeline = (d.events || []).map((e) => h("li", { "data-event": e.type },
      h("strong", {}, e.type), " ", e.from ? `${e.from} → ${e.to}` : e.to, " ",
      h("span", { class: "muted" }, new Date(e.at).toLocaleTimeString(), e.request_id ? " · " + e.request_id : ""),
      e.detail && Object.keys(e.detail).length ? h("div", { class: "muted" }, JSON.stringify(e.detail)) : null));
    box.replaceChildren(
      h("dl", { class: "kv", "data-order": o.id, "data-status": o.status },
        facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("ol", { class: "timeline", "data-testid": "timeline" }, timeline));
  }

  // --- wiring -------------------------------------------------------------
  $("#login-form").addEventListener("submit", (ev) => { ev.preventDefault(); login($("#token").value.trim()); });
  $("#logout").addEventListener("click", () => logout(""));
  $("#search-form").addEventListener("submit", (ev) => { ev.preventDefault(); showOrder($("#search").value); });
  for (const tab of document.querySelectorAll("#notif-tabs .tab")) {
    tab.addEventListener("click", () => {
      notifStatus = tab.dataset.status;
      for (const t of document.querySelectorAll("#notif-tabs .tab")) t.classList.toggle("active", t === tab);
      loadNotifications();
    });
  }
  window.addEventListener("resize", () => queueRender());
  $("#orders").addEventListener("mouseenter", () => { pointerOverOrders = true; });
  $("#orders").addEventListener("mouseleave", () => { pointerOverOrders = false; queueRender(); });
  if (token) login(token);
})();
