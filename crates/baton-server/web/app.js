// Baton agent desk and lead dashboard. Plain JS, no dependencies; talks to the JSON API with the
// key kept in this browser tab's sessionStorage. User text is always set with textContent.
"use strict";
// Script errors are collected so a browser test can assert there were none.
window.batonErrors = [];
window.addEventListener("error", (e) => window.batonErrors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.batonErrors.push(String(e.reason)));
const Baton = (() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  };
  const SVG = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs = {}, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    return e;
  };
  const key = () => sessionStorage.getItem("baton-key");
  let me = null;

  /** An error answer of the API: its HTTP status, code, message and the field it names. */
  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || "HTTP " + status);
      this.status = status; this.code = e.code; this.field = e.field;
    }
  }

  async function api(method, path, body) {
    const r = await fetch(path, {
      method,
      headers: Object.assign({ Authorization: "Bearer " + key() }, body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!r.ok) throw new ApiError(r.status, data);
    return data;
  }

  async function signIn(onReady, allowed) {
    const form = $("signin-form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      sessionStorage.setItem("baton-key", $("key").value.trim());
      try { await start(onReady, allowed); } catch (e) {
        sessionStorage.removeItem("baton-key");
        $("signin-error").textContent = "Sign-in failed: " + e.message;
      }
    });
    $("signout").addEventListener("click", () => { sessionStorage.removeItem("baton-key"); location.reload(); });
    if (key()) {
      try { await start(onReady, allowed); } catch (e) {
        sessionStorage.removeItem("baton-key");
        $("signin-error").textContent = e.message;
      }
    }
  }

  async function start(onReady, allowed) {
    me = await api("GET", "/v1/me");
    const refusal = allowed(me);
    if (refusal) throw new Error(refusal);
    $("signin").classList.add("hidden");
    $("desk").classList.remove("hidden");
    $("signout").classList.remove("hidden");
    $("who").textContent = me.name + " (" + me.role + (me.agent_id ? ", " + me.agent_id : "") + ")";
    await onReady();
  }

  const supervisor = () => me && (me.role === "lead" || me.role === "admin");

  // Server-Sent Events over fetch (EventSource cannot send the Authorization header). Calls
  // `onEvent(kind, event)` with the parsed event (`{seq, kind, subject, at, data}`).
  async function listen(onEvent) {
    let last = null;
    for (;;) {
      try {
        const headers = { Authorization: "Bearer " + key() };
        if (last) headers["Last-Event-ID"] = last;
        const r = await fetch("/v1/events", { headers });
        if (!r.ok) throw new Error("events " + r.status);
        $("live") && ($("live").style.color = "var(--green)");
        // What changed between the page's first load and this subscription (or while
        // disconnected) came before the stream: refresh once it is open.
        try { onEvent("stream.open", {}); } catch (e) { window.batonErrors.push(String(e)); }
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i); buf = buf.slice(i + 2);
            let id = null, kind = null, data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("id:")) id = line.slice(3).trim();
              if (line.startsWith("event:")) kind = line.slice(6).trim();
              if (line.startsWith("data:")) data += line.slice(5).trim();
            }
            if (!id) continue;
            last = id;
            let ev = {};
            try { ev = JSON.parse(data); } catch (_) { ev = {}; }
            try { onEvent(kind || "", ev); } catch (e) { window.batonErrors.push(String(e)); }
          }
        }
      } catch (e) { /* reconnect below */ }
      $("live") && ($("live").style.color = "var(--muted)");
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** Runs `fn` once, `ms` after the last call (several events in a burst refresh once). */
  const debounce = (fn, ms) => {
    let t = null;
    return () => { clearTimeout(t); t = setTimeout(() => { Promise.resolve(fn()).catch((e) => console.warn(e)); }, ms); };
  };

  const duration = (s) => {
    s = Math.max(0, Math.round(s));
    return s < 60 ? s + " s" : s < 3600 ? Math.round(s / 60) + " min" : (s / 3600).toFixed(s < 36000 ? 1 : 0) + " h";
  };
  const since = (iso) => (Date.now() - Date.parse(iso)) / 1000;
  const localTime = (iso) => new Date(iso).toLocaleString([], { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  const labelOf = (s) => (s || "").replace(/_/g, " ");

  /** How a wait compares with the team's target: within half of it, within it, or past it. */
  const waitClass = (seconds, target) => (!target ? "" : seconds <= target / 2 ? "ok" : seconds <= target ? "warn" : "late");

  // An amount as written in the conversation ("€87.40", "25,00 €", "USD 12") split into its
  // currency (kept as written) and its number.
  function money(text) {
    const t = String(text || "").trim();
    const m = t.match(/^(\D*?)\s?(\d[\d.,]*)\s?(\D*)$/);
    if (!m) return null;
    let n = m[2];
    // "1.234,56" and "25,00": a comma before the last two digits is the decimal mark.
    if (/,\d{2}$/.test(n)) n = n.replace(/\./g, "").replace(",", ".");
    else n = n.replace(/,/g, "");
    const value = parseFloat(n);
    if (!isFinite(value)) return null;
    return { before: m[1].trim(), after: m[3].trim(), value };
  }
  const formatMoney = (m, value) => {
    const v = value.toFixed(2);
    if (m.before) return m.before + (/^[A-Z]{2,3}$/.test(m.before) ? " " : "") + v;
    if (m.after) return v + " " + m.after;
    return v;
  };

  /** Shows `message` next to the element `id` (its `-error` span). */
  function fieldError(id, message) {
    const e = $(id + "-error");
    if (e) e.textContent = message;
  }
  const clearErrors = () => document.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });

  // ---------------------------------------------------------------- desk
  let current = null;          // the open handoff, as GET /v1/handoffs/{id} answered
  let rows = [];               // the queue as last fetched
  let agents = [];             // transfer targets
  const seen = new Map();      // handoff id -> messages the agent has seen
  const mine = (h) => !!(me && me.agent_id && h.agent_id === me.agent_id);
  const OPEN = "queued,assigned,accepted,callback";

  function flash(msg, kind) {
    const f = $("flash");
    f.textContent = msg;
    f.className = "flash" + (kind ? " " + kind : "") + (msg ? "" : " hidden");
  }

  async function refreshQueue() {
    rows = await api("GET", "/v1/handoffs?status=" + OPEN);
    $("queue-loading").classList.add("hidden");
    const skills = new Set([...rows.map((h) => h.skill), ...agents.flatMap((a) => a.skills)]);
    const pick = $("f-skill"), was = pick.value;
    pick.replaceChildren(el("option", { value: "", text: "all" }), ...[...skills].sort().map((s) => el("option", { value: s, text: s })));
    pick.value = skills.has(was) ? was : "";
    renderQueue();
  }

  function waitText(h) {
    if (h.status === "callback" && h.callback_at) {
      const due = -since(h.callback_at);
      return [due > 0 ? "callback due " + localTime(h.callback_at) + " (in " + duration(due) + ")" : "callback due now (" + duration(-due) + " ago)", due > 0 ? "" : "late"];
    }
    if (h.status === "accepted") return ["in progress " + duration(since(h.accepted_at || h.created_at)), ""];
    const w = since(h.queued_at || h.created_at);
    return ["waiting " + duration(w) + (h.target_seconds ? " (target " + duration(h.target_seconds) + ")" : ""), waitClass(w, h.target_seconds)];
  }

  function renderQueue() {
    const st = $("f-status").value, sk = $("f-skill").value;
    const shown = rows.filter((h) => (!st || h.status === st) && (!sk || h.skill === sk));
    const rank = { urgent: 0, high: 1, medium: 2, low: 3 };
    shown.sort((a, b) => (mine(b) - mine(a)) || (rank[a.priority] - rank[b.priority]) || a.created_at.localeCompare(b.created_at));
    const ul = $("queue");
    // Redrawn on every event: keep the keyboard focus on the row it was on.
    const focused = document.activeElement && document.activeElement.closest("#queue li");
    const focusId = focused && focused.dataset.id;
    ul.replaceChildren();
    for (const h of shown) {
      const c = h.customer || {};
      const vip = h.vip || c.tier === "vip";
      const [wait, cls] = waitText(h);
      const unread = seen.has(h.id) && h.messages > seen.get(h.id) ? h.messages - seen.get(h.id) : 0;
      const who = supervisor() ? (h.agent_id ? "→ " + (h.agent_name || h.agent_id) : "unassigned") : mine(h) ? "mine" : "";
      const body = [
        el("span", { class: "q-line" }, el("strong", { class: "q-name", text: c.name || c.id || h.conversation_id }), " ",
          vip ? el("span", { class: "badge vip", text: "VIP" }) : el("span", { class: "badge", text: c.tier || "" }), " ",
          el("span", { class: "badge " + h.priority, text: h.priority }),
          unread ? el("span", { class: "badge unread", text: unread + " new" }) : ""),
        el("span", { class: "q-reason", text: labelOf(h.reason) + " · " + h.skill + " · " + h.status }),
        el("span", { class: "q-summary", text: h.summary || "" }),
        el("span", { class: "q-meta" }, el("span", { class: "wait " + cls, text: wait }), who ? el("span", { class: "q-who", text: who }) : ""),
      ];
      const dot = el("span", { class: "dot " + (h.sentiment || ""), role: "img", "aria-label": "sentiment " + (h.sentiment || "unknown") });
      // An agent opens only its own work; the rest of the queue is for reading.
      const openable = supervisor() || mine(h);
      const label = el(openable ? "button" : "div", { class: openable ? "open" : "open readonly", "data-id": h.id }, ...body);
      if (openable) label.addEventListener("click", () => openHandoff(h.id));
      const li = el("li", { "data-id": h.id, class: current && current.id === h.id ? "current" : "" }, dot, label);
      if (mine(h) && h.status === "assigned") {
        const b = el("button", { class: "primary", text: "Accept" });
        b.addEventListener("click", () => act("accept", { agent_id: me.agent_id }, { id: h.id, error: null }));
        li.append(b);
      }
      ul.append(li);
      if (focusId === h.id && openable) label.focus();
    }
    $("queue-empty").textContent = rows.length ? "No handoffs match the filters." : "No handoffs waiting.";
    $("queue-empty").classList.toggle("hidden", shown.length > 0);
  }

  function sentimentChart(points, transcript) {
    const w = 340, h = 150, left = 34, right = 10, top = 10, bottom = 34;
    const iw = w - left - right, ih = h - top - bottom, n = Math.max(points.length - 1, 1);
    const x = (i) => left + (points.length === 1 ? iw / 2 : (i / n) * iw);
    const y = (c) => top + ((1 - c) / 2) * ih;
    const svg = svgEl("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", class: "chart",
      "aria-label": "customer sentiment per message, from -1 (negative) to +1 (positive)" });
    for (const [v, label] of [[1, "+1"], [0.5, ""], [0, "0"], [-0.5, ""], [-1, "−1"]]) {
      svg.append(svgEl("line", { x1: left, x2: w - right, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "grid" }));
      if (label) svg.append(svgEl("text", { x: left - 4, y: y(v) + 3, "text-anchor": "end", class: "tick" }, label));
    }
    svg.append(svgEl("line", { x1: left, x2: left, y1: top, y2: top + ih, class: "axis" }));
    svg.append(svgEl("text", { x: 10, y: top + ih / 2, transform: `rotate(-90 10 ${top + ih / 2})`, "text-anchor": "middle", class: "axis-label" }, "sentiment"));
    svg.append(svgEl("polyline", { points: points.map((p, i) => `${x(i)},${y(p.compound)}`).join(" "), fill: "none", stroke: "#59636e" }));
    points.forEach((p, i) => {
      const c = svgEl("circle", { cx: x(i), cy: y(p.compound), r: 4, fill: { green: "#1a7f37", yellow: "#b08800", red: "#cf222e" }[p.colour] || "#59636e" });
      const said = (transcript[p.message] || {}).text || "";
      c.append(svgEl("title", {}, `message ${p.message + 1}: ${p.compound.toFixed(2)} “${said.slice(0, 80)}”`));
      svg.append(c);
      svg.append(svgEl("text", { x: x(i), y: top + ih + 14, "text-anchor": "middle", class: "tick" }, "#" + (p.message + 1)));
    });
    svg.append(svgEl("text", { x: left + iw / 2, y: h - 4, "text-anchor": "middle", class: "axis-label" }, "customer message (# in the transcript)"));
    return svg;
  }

  /** Empties every form of the handoff view (another handoff is opening, or the last one is done). */
  function resetForms() {
    $("reply").value = ""; delete $("reply").dataset.suggestion;
    $("t-note").value = ""; $("t-skill").value = ""; $("t-agent").value = "";
    $("cb-at").value = "";
    $("r-text").value = ""; $("r-needed").checked = true; $("r-missing").value = "";
    for (const d of ["d-transfer", "d-callback", "d-resolve"]) $(d).open = false;
    clearErrors();
  }

  function closeHandoff() {
    current = null;
    resetForms();
    $("handoff").classList.add("hidden");
    $("pick").classList.remove("hidden");
    history.replaceState(null, "", location.pathname);
    renderQueue();
  }

  function renderTranscript(c, id) {
    const read = seen.get(id) ?? c.transcript.length;
    $("h-transcript").replaceChildren(...c.transcript.map((m, i) => {
      const unread = i >= read && m.role !== "agent";
      return el("div", { class: "msg " + m.role + (unread ? " unread" : ""), "data-index": i },
        el("strong", { text: m.role + ": " }), m.text,
        unread ? el("span", { class: "badge unread", text: "new" }) : "",
        el("span", { class: "muted when", text: " " + localTime(m.at) }));
    }));
    const n = c.transcript.slice(read).filter((m) => m.role !== "agent").length;
    $("unread-text").textContent = n ? n + (n === 1 ? " new message" : " new messages") + " from the conversation: read it before you reply." : "";
    $("unread-bar").classList.toggle("hidden", n === 0);
    document.title = (n ? "(" + n + ") " : "") + "Baton · Agent desk";
  }

  function markRead() {
    if (!current) return;
    seen.set(current.id, current.context.transcript.length);
    renderTranscript(current.context, current.id);
    renderQueue();
  }

  /** What the signed-in person may do with handoff `h` now, and why not. */
  function allowedOn(h) {
    if (h.status === "resolved") return [false, "This handoff is resolved."];
    if (supervisor() || mine(h)) return [true, ""];
    return [false, "This handoff is now " + (h.agent_id ? "with " + (h.agent_name || h.agent_id) : h.status + " for " + h.team) + ": you can no longer act on it."];
  }

  /** Disables the actions on the open handoff and says why (`why` empty: enables them). */
  function lockHandoff(why) {
    $("h-notice").textContent = why;
    $("h-notice").classList.toggle("hidden", !why);
    for (const b of ["accept", "send", "transfer", "callback", "resolve"]) $(b).disabled = !!why;
  }

  /** Opens handoff `id`; `live` re-reads the open one (new messages, status) and keeps the forms. */
  async function openHandoff(id, live) {
    let h;
    try { h = await api("GET", "/v1/handoffs/" + encodeURIComponent(id)); } catch (e) {
      if (live && current && current.id === id) {
        // Taken away (reassigned by a lead) while open: keep it readable, allow nothing.
        lockHandoff("You can no longer act on this handoff: " + e.message);
        return;
      }
      flash((e.status === 403 ? "Not yours: " : "Could not open " + id + ": ") + e.message, "error");
      if (!live) closeHandoff();
      return;
    }
    const switching = !current || current.id !== id;
    if (switching) { resetForms(); flash(""); }
    current = h;
    const c = h.context;
    if (!seen.has(id)) seen.set(id, c.transcript.length);
    $("pick").classList.add("hidden");
    $("handoff").classList.remove("hidden");
    $("h-dot").className = "dot " + c.sentiment_now;
    $("h-dot").setAttribute("aria-label", "customer " + c.customer_state.mood);
    $("h-dot").title = "customer " + c.customer_state.mood + ": " + c.customer_state.because.join("; ");
    $("h-name").textContent = c.customer.name || c.customer.id;
    $("h-tier").textContent = c.customer.tier === "vip" ? "VIP" : c.customer.tier;
    $("h-tier").className = "badge" + (c.customer.tier === "vip" ? " vip" : "");
    $("h-priority").textContent = h.priority; $("h-priority").className = "badge " + h.priority;
    $("h-status").textContent = h.status + (h.csat ? " · CSAT " + h.csat : "");
    $("h-team").textContent = h.team + (h.agent_id ? " · " + (h.agent_name || h.agent_id) : "");
    $("h-summary").textContent = c.summary;
    const [may, why] = allowedOn(h);
    lockHandoff(why);
    $("accept").classList.toggle("hidden", !(may && h.status === "assigned"));
    if (switching) $("reply").value = c.greeting.replace("I'm your specialist", "I'm " + (me.name || "here"));
    renderTranscript(c, id);
    $("h-account").replaceChildren(el("p", { text: `${c.customer.tier} · lifetime value ${c.customer.lifetime_value.toLocaleString()}${c.customer.currency ? " " + c.customer.currency : ""} · ${c.customer.timezone || "time zone unknown"}` }),
      el("p", { text: "Flags: " + (c.customer.flags.join(", ") || "none") }),
      el("p", { text: "Issue: " + c.issue.topic + (c.issue.subtopic ? " / " + c.issue.subtopic : "") + " · reason: " + labelOf(c.issue.reason || "-") + " · evidence: \u201c" + (c.issue.evidence || "") + "\u201d" }));
    $("h-ai").replaceChildren(el("p", { text: "Tried:" }), el("ul", {}, ...c.ai_assessment.attempted.map((a) => el("li", { text: a }))),
      el("p", { text: "What failed:" + (c.ai_assessment.failed.length ? "" : " nothing known") }), el("ul", {}, ...c.ai_assessment.failed.map((a) => el("li", { text: a }))));
    $("h-sentiment").replaceChildren(c.sentiment.length ? sentimentChart(c.sentiment, c.transcript) : el("p", { class: "muted", text: "No customer message scored yet." }));
    $("h-actions").replaceChildren(...c.recommended_actions.map((a) => el("li", { text: a })));
    const f = c.facts;
    $("h-facts").replaceChildren(el("p", { text: "References: " + (f.references.join(", ") || "-") }), el("p", { text: "Amounts: " + (f.amounts.join(", ") || "-") }),
      el("p", { text: "Dates: " + (f.dates.join(", ") || "-") + " · windows: " + (f.windows.join(", ") || "-") }), el("p", { text: "KB articles: " + (c.kb_articles.join(", ") || "-") }));
    if (switching) {
      $("calc-amount").value = f.amounts[0] || "";
      calc();
      const skills = [...new Set([...rows.map((r) => r.skill), ...agents.flatMap((a) => a.skills)])].sort();
      $("t-skill").replaceChildren(el("option", { value: "", text: "(none)" }), ...skills.filter((s) => s !== h.skill).map((s) => el("option", { value: s, text: s })));
      $("t-agent").replaceChildren(el("option", { value: "", text: "(none)" }),
        ...agents.filter((a) => a.id !== h.agent_id).map((a) => el("option", { value: a.id, text: `${a.name} (${a.skills.join("/")}, ${a.status}, ${a.active}/${a.capacity})` })));
      history.replaceState(null, "", "#" + id);
    }
    renderQueue();
    await refreshSuggestions();
  }

  async function refreshSuggestions() {
    if (!current) return;
    let s;
    try { s = await api("GET", `/v1/handoffs/${encodeURIComponent(current.id)}/suggestions`); } catch (_) { return; }
    const box = $("suggestions");
    box.replaceChildren();
    for (const x of s.integrator.filter((x) => x.status === "new")) {
      const use = el("button", { text: "Use" }), dismiss = el("button", { text: "Dismiss" });
      use.addEventListener("click", () => { $("reply").value = x.text; $("reply").dataset.suggestion = x.id; $("reply").focus(); });
      dismiss.addEventListener("click", async () => {
        try { await api("POST", `/v1/handoffs/${current.id}/suggestions/${x.id}`, { status: "dismissed" }); } catch (e) { flash("Could not dismiss: " + e.message, "error"); }
        await refreshSuggestions();
      });
      box.append(el("div", { class: "suggestion", "data-source": "integrator" }, el("span", { class: "badge", text: "AI " + x.kind }), " ", x.url ? el("a", { href: x.url, text: x.text }) : x.text, el("div", { class: "row" }, use, dismiss)));
    }
    for (const x of s.baton) {
      const row = el("div", { class: "suggestion", "data-source": "baton" }, el("span", { class: "badge", text: x.kind }), " ", x.text);
      if (x.kind === "reply") { const use = el("button", { text: "Use" }); use.addEventListener("click", () => { $("reply").value = x.text; }); row.append(el("div", { class: "row" }, use)); }
      box.append(row);
    }
  }

  function calc() {
    const m = money($("calc-amount").value), p = parseFloat($("calc-pct").value);
    $("calc-out").textContent = m && isFinite(p) ? formatMoney(m, Math.round(m.value * p) / 100) : "–";
  }

  /** What to tell the agent after `what` succeeded, from the handoff as the API answered. */
  function outcome(what, h, name) {
    switch (what) {
      case "accept": return `Accepted: ${name} is yours now.`;
      case "messages": return `Reply sent to ${name}.`;
      case "transfer":
        return h.agent_id ? `Transferred to ${h.agent_name || h.agent_id} (${h.team}), with your note.`
          : `Transferred to the ${h.team} team: ${h.status === "queued" ? "queued, position " + ((h.queue_position ?? 0) + 1) : h.status}, with your note.`;
      case "resolve": return `Resolved ${name}'s handoff.`;
      case "callback": return `Callback for ${name} scheduled for ${localTime(h.callback_at)}.`;
      default: return "Done.";
    }
  }

  /**
   * Posts action `what` on handoff `opts.id` (the open one by default). On success says what
   * happened and moves on: a handoff that is finished or no longer the agent's closes. On error
   * shows the message next to the field the API names, else next to the action.
   */
  async function act(what, body, opts = {}) {
    const id = opts.id || (current && current.id);
    if (!id) return;
    clearErrors();
    const name = current && current.id === id ? current.context.customer.name || "the customer" : "the customer";
    let h;
    try {
      h = await api("POST", `/v1/handoffs/${encodeURIComponent(id)}/${what}`, body);
    } catch (e) {
      const fields = { at: "cb-at", note: "t-note", to_agent: "t-skill", to_skill: "t-skill", resolution: "r-text", text: "reply" };
      const where = (e.field && fields[e.field]) || opts.error || what;
      const prefix = e.status === 403 ? "Not allowed: " : e.status === 409 ? "Not now: " : "";
      if ($(where + "-error")) fieldError(where, prefix + e.message); else flash("Could not " + what + ": " + e.message, "error");
      return;
    }
    // A reply answers with the conversation's answer; its handoff is under `handoff`.
    if (what === "messages") { h = h.handoff || current; $("reply").value = ""; delete $("reply").dataset.suggestion; }
    const msg = outcome(what, h, name);
    const isOpen = current && current.id === id;
    const stillMine = h.status !== "resolved" && (supervisor() || h.agent_id === me.agent_id);
    if (isOpen && (what === "transfer" || what === "resolve" || !stillMine)) closeHandoff();
    flash(msg, "ok");
    await refreshQueue().catch(() => {});
    if (isOpen && current && current.id === id) {
      if (what === "messages") markRead();
      await openHandoff(id, true);
    }
  }

  async function desk() {
    await signIn(async () => {
      $("status-box").classList.toggle("hidden", !me.agent_id);
      $("to-dashboard").classList.toggle("hidden", !supervisor());
      if (me.agent_id) {
        const self = (await api("GET", "/v1/agents").catch(() => [])).find((a) => a.id === me.agent_id);
        if (self) $("my-status").value = self.status;
      }
      $("my-status").addEventListener("change", async (e) => {
        try { await api("PUT", `/v1/agents/${me.agent_id}/status`, { status: e.target.value }); flash("Your status: " + e.target.value + ".", "ok"); } catch (err) { flash("Could not change the status: " + err.message, "error"); }
      });
      $("accept").addEventListener("click", () => act("accept", me.agent_id ? { agent_id: me.agent_id } : {}));
      $("send").addEventListener("click", () => {
        const text = $("reply").value.trim();
        if (!text) return fieldError("reply", "Write a reply first.");
        const body = { text };
        if ($("reply").dataset.suggestion) body.suggestion_id = $("reply").dataset.suggestion;
        return act("messages", body, { error: "send" });
      });
      $("transfer").addEventListener("click", () => {
        clearErrors();
        const body = { note: $("t-note").value.trim() };
        if ($("t-agent").value) body.to_agent = $("t-agent").value; else if ($("t-skill").value) body.to_skill = $("t-skill").value;
        if (!body.to_agent && !body.to_skill) return fieldError("t-skill", "Pick a team or an agent to transfer to.");
        if (!body.note) return fieldError("t-note", "Write a note for the next person: what you found, what is left.");
        return act("transfer", body);
      });
      $("callback").addEventListener("click", () => {
        clearErrors();
        const v = $("cb-at").value;
        if (!v) return fieldError("cb-at", "Pick a date and time for the callback.");
        const at = new Date(v);
        if (isNaN(at.getTime())) return fieldError("cb-at", "That is not a date and time.");
        if (at.getTime() <= Date.now()) return fieldError("cb-at", "A callback must be in the future.");
        return act("callback", { at: at.toISOString() });
      });
      $("resolve").addEventListener("click", () => {
        clearErrors();
        const resolution = $("r-text").value.trim();
        if (!resolution) return fieldError("r-text", "Say how it was resolved.");
        return act("resolve", { resolution, necessary: $("r-needed").checked, missing: $("r-missing").value.trim() || null });
      });
      $("mark-read").addEventListener("click", markRead);
      $("calc-amount").addEventListener("input", calc); $("calc-pct").addEventListener("input", calc);
      $("f-status").addEventListener("change", renderQueue); $("f-skill").addEventListener("change", renderQueue);
      agents = await api("GET", "/v1/agents").catch(() => []);
      await refreshQueue();
      setInterval(renderQueue, 15000);
      // `/desk#ID` opens handoff ID (the dashboard links to handoffs this way).
      const wanted = () => decodeURIComponent(location.hash.slice(1));
      window.addEventListener("hashchange", () => { if (wanted() && (!current || current.id !== wanted())) openHandoff(wanted()); });
      if (wanted()) await openHandoff(wanted());
      const queueLater = debounce(refreshQueue, 150);
      const currentLater = debounce(() => current && openHandoff(current.id, true), 100);
      listen((kind, ev) => {
        if (kind.startsWith("agent.")) api("GET", "/v1/agents").then((a) => { agents = a; }).catch(() => {});
        queueLater();
        if (current && (ev.subject === current.id || (ev.data && ev.data.handoff_id === current.id))) currentLater();
      });
    }, (who) => (who.role === "integrator" ? "An integrator key cannot use the desk: sign in with an agent key." : null));
  }

  // ---------------------------------------------------------------- dashboard
  const pct = (x) => (x == null ? "–" : Math.round(x * 100) + "%");
  const mins = (x) => (x == null ? "–" : (x / 60).toFixed(1) + " min");

  /** A bar chart with both axes: `items` are [label, value]; `opts` names the axes. */
  function barChart(items, opts) {
    const w = Math.max(items.length * 34 + 50, 240), h = 170, left = 36, bottom = 40, top = 10;
    const ih = h - top - bottom;
    const max = Math.max(1, ...items.map((d) => d[1]));
    const step = Math.max(1, Math.ceil(max / 4));
    const y = (v) => top + ih - (v / (Math.ceil(max / step) * step)) * ih;
    const svg = svgEl("svg", { viewBox: `0 0 ${w} ${h}`, width: Math.min(w, 900), height: h, role: "img", class: "chart", "aria-label": opts.title });
    for (let v = 0; v <= Math.ceil(max / step) * step; v += step) {
      svg.append(svgEl("line", { x1: left, x2: w - 6, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "grid" }));
      svg.append(svgEl("text", { x: left - 4, y: y(v) + 3, "text-anchor": "end", class: "tick" }, String(v)));
    }
    svg.append(svgEl("line", { x1: left, x2: left, y1: top, y2: top + ih, class: "axis" }));
    items.forEach(([label, n], i) => {
      const x = left + 6 + i * 34;
      const r = svgEl("rect", { x, y: y(n), width: 26, height: top + ih - y(n), fill: opts.colour ? opts.colour(i) : "#0969da" });
      r.append(svgEl("title", {}, `${label}: ${n}`));
      svg.append(r, svgEl("text", { x: x + 13, y: top + ih + 12, "text-anchor": "middle", class: "tick" }, label));
      if (n) svg.append(svgEl("text", { x: x + 13, y: y(n) - 2, "text-anchor": "middle", class: "tick" }, String(n)));
    });
    svg.append(svgEl("text", { x: left + (w - left) / 2, y: h - 4, "text-anchor": "middle", class: "axis-label" }, opts.x));
    svg.append(svgEl("text", { x: 10, y: top + ih / 2, transform: `rotate(-90 10 ${top + ih / 2})`, "text-anchor": "middle", class: "axis-label" }, opts.y));
    return svg;
  }

  function renderSummary(s) {
    const queued = (s.by_status.queued || 0) + (s.by_status.assigned || 0);
    const tiles = [["Handoffs", String(s.handoffs)], ["Handoff rate", pct(s.handoff_rate)], ["Waiting now", String(queued)],
      ["Being handled", String(s.by_status.accepted || 0)], ["Callbacks", String(s.by_status.callback || 0)],
      ["Time to handoff", mins(s.mean_time_to_handoff_seconds)], ["Resolution after handoff", mins(s.mean_resolution_seconds)],
      ["CSAT after handoff", s.mean_csat == null ? "–" : s.mean_csat.toFixed(2) + " (" + s.csat_count + ")"], ["Judged necessary", pct(s.necessary_share)]];
    $("tiles").replaceChildren(...tiles.map(([k, v]) => el("div", { class: "tile", "data-tile": k }, el("div", { class: "muted", text: k }), el("div", { class: "value", text: v }))));
    $("tiles").setAttribute("aria-busy", "false");
    $("teams").querySelector("tbody").replaceChildren(...(s.teams || []).map((t) => {
      const longest = t.longest_wait_seconds;
      return el("tr", { "data-team": t.team },
        el("td", { text: t.team }), el("td", { text: duration(t.target_seconds) }), el("td", { text: String(t.waiting) }),
        el("td", { class: "wait " + (longest == null ? "" : waitClass(longest, t.target_seconds)), text: longest == null ? "–" : duration(longest) }),
        el("td", { class: t.service_level == null ? "" : t.service_level >= 0.8 ? "wait ok" : "wait late", text: t.service_level == null ? "–" : `${pct(t.service_level)} (${t.answered_within_target} of ${t.answered_today + t.waiting_past_target})` }),
        el("td", { class: t.breaches_today ? "wait late" : "", text: String(t.breaches_today) }));
    }));
    const entries = Object.entries(s.by_reason).sort((a, b) => b[1] - a[1]);
    const max = Math.max(1, ...entries.map((e) => e[1]));
    const svg = svgEl("svg", { viewBox: `0 0 340 ${entries.length * 22 + 4}`, width: "100%", role: "img", "aria-label": "handoffs by reason" });
    entries.forEach(([reason, n], i) => {
      svg.append(svgEl("text", { x: 0, y: i * 22 + 15, "font-size": 11 }, labelOf(reason)),
        svgEl("rect", { x: 140, y: i * 22 + 4, height: 14, width: (n / max) * 160, fill: "#0969da" }),
        svgEl("text", { x: 145 + (n / max) * 160, y: i * 22 + 15, "font-size": 11 }, String(n)));
    });
    $("reasons").replaceChildren(entries.length ? svg : el("p", { class: "muted", text: "No handoffs yet." }));
    $("agents").querySelector("tbody").replaceChildren(...s.agents.map((a) => el("tr", {}, el("td", { text: a.name }), el("td", { text: a.team }), el("td", { text: a.status }), el("td", { text: a.active + " / " + a.capacity }))));
    $("lowest").replaceChildren(...(s.lowest_csat.length ? s.lowest_csat.map(([id, score, reason]) => el("li", {}, el("a", { href: "/desk#" + id, text: id }), ` CSAT ${score} · ${labelOf(reason)}`)) : [el("li", { class: "muted", text: "No CSAT yet." })]));
    const fill = (id, values) => {
      const sel = $(id), was = sel.value;
      sel.replaceChildren(el("option", { value: "", text: "All" }), ...[...new Set(values)].sort().map((v) => el("option", { value: v, text: v })));
      sel.value = was;
    };
    fill("f-team", (s.teams || []).map((t) => t.team));
    fill("f-skill", [...s.agents.flatMap((a) => a.skills), ...(s.teams || []).map((t) => t.skill)]);
    fill("f-reason", Object.keys(s.by_reason));
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  }

  function renderReport(r) {
    const kinds = Object.entries(r.csat_by_kind).map(([k, [m, n]]) => [`CSAT ${k.replace("_", " ")}`, `${m.toFixed(2)} (${n})`]);
    const qt = [["Mean quality", r.mean_quality == null ? "–" : r.mean_quality.toFixed(1)], ["Repeat contacts", pct(r.repeat_contact_rate)], ...kinds];
    $("quality-tiles").replaceChildren(...qt.map(([k, v]) => el("div", { class: "tile" }, el("div", { class: "muted", text: k }), el("div", { class: "value", text: v }))));
    $("review").querySelector("tbody").replaceChildren(...r.weekly_review.map((x) => el("tr", {}, el("td", { text: x.score.toFixed(1) }), el("td", {}, el("a", { href: "/desk#" + x.handoff_id, text: x.handoff_id })), el("td", { text: labelOf(x.reason) }), el("td", { text: x.why || "–" }))));
    $("review-empty").classList.toggle("hidden", r.weekly_review.length > 0);
    $("suggestions").replaceChildren(...r.suggestions.map((x) => el("li", { text: `${x.change}: changes ${x.handoffs_changed} handoffs, ${x.unnecessary_avoided} unnecessary avoided, ${x.necessary_lost} necessary lost` })));
    $("report-notes").textContent = r.notes.join(" ");
    const days = Object.entries(r.handoffs_per_day).map(([d, n]) => [d.slice(5), n]);
    $("per-day").replaceChildren(days.length ? barChart(days, { title: "handoffs per day", x: "day (MM-DD)", y: "handoffs" }) : el("p", { class: "muted", text: "No handoffs in this period." }));
    const hist = r.quality_histogram.map((n, i) => [String(i * 10), n]);
    const scored = r.quality_histogram.reduce((a, b) => a + b, 0);
    const band = (i) => (i < 5 ? "#cf222e" : i < 7 ? "#b08800" : "#1a7f37");
    $("histogram").replaceChildren(scored ? barChart(hist, { title: "quality score distribution", x: "quality score (bucket start, 0-100)", y: "handoffs", colour: band }) : el("p", { class: "muted", text: "No scored handoffs in this period." }));
  }

  async function dashboard() {
    await signIn(async () => {
      const d = new Date(Date.now() - 6 * 86400000);
      $("since").value = d.toISOString().slice(0, 10);
      let loadingSummary = false, reviews = 0;
      const summary = async () => {
        if (loadingSummary) return;
        loadingSummary = true;
        $("updated").textContent = "updating…";
        try { renderSummary(await api("GET", "/v1/summary")); } catch (e) { $("updated").textContent = "could not update: " + e.message; } finally { loadingSummary = false; }
      };
      const review = async () => {
        const q = new URLSearchParams();
        if ($("since").value) q.set("since", $("since").value);
        if ($("until").value) q.set("until", $("until").value);
        for (const f of ["team", "skill", "reason"]) if ($("f-" + f).value) q.set(f, $("f-" + f).value);
        $("report-state").textContent = "Loading the report…";
        $("report-state").classList.add("loading");
        $("review").setAttribute("aria-busy", "true");
        // Only the latest request is drawn (an older, slower answer must not overwrite it).
        const mine = ++reviews;
        try {
          const r = await api("GET", "/v1/report?" + q.toString());
          if (mine !== reviews) return;
          renderReport(r);
          $("report-state").textContent = "";
        } catch (e) {
          if (mine !== reviews) return;
          $("report-state").textContent = "Could not load the report: " + e.message;
        }
        $("report-state").classList.remove("loading");
        $("review").setAttribute("aria-busy", "false");
      };
      $("apply").addEventListener("click", review);
      await summary();
      // The report takes longer: the figures go live without waiting for it.
      review();
      // Live: every event refreshes the figures; handoff changes refresh the report too.
      const summaryLater = debounce(summary, 250), reviewLater = debounce(review, 2000);
      listen((kind) => {
        summaryLater();
        if (kind.startsWith("handoff.")) reviewLater();
      });
      setInterval(summary, 30000);
    }, (who) => (who.role === "lead" || who.role === "admin" ? null : `The dashboard is for lead and admin keys; this is ${who.role === "agent" ? "an agent" : "an " + who.role} key. Agents work in the desk (/desk).`));
  }

  return { desk, dashboard };
})();
