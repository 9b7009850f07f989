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
  const key = () => sessionStorage.getItem("baton-key");
  let me = null;

  async function api(method, path, body) {
    const r = await fetch(path, {
      method,
      headers: Object.assign({ Authorization: "Bearer " + key() }, body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    const data = text ? JSON.parse(text) : null;
    if (!r.ok) throw new Error((data && data.error && data.error.message) || r.statusText);
    return data;
  }

  function say(msg) { const s = $("status"); if (s) s.textContent = msg; }

  async function signIn(onReady) {
    const form = $("signin-form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      sessionStorage.setItem("baton-key", $("key").value.trim());
      try { await start(onReady); } catch (e) {
        sessionStorage.removeItem("baton-key");
        $("signin-error").textContent = "Sign-in failed: " + e.message;
      }
    });
    $("signout").addEventListener("click", () => { sessionStorage.removeItem("baton-key"); location.reload(); });
    if (key()) { try { await start(onReady); } catch (e) { sessionStorage.removeItem("baton-key"); } }
  }

  async function start(onReady) {
    me = await api("GET", "/v1/me");
    if (me.role === "integrator") throw new Error("an integrator key cannot use the desk");
    $("signin").classList.add("hidden");
    $("desk").classList.remove("hidden");
    $("signout").classList.remove("hidden");
    $("who").textContent = me.name + " (" + me.role + (me.agent_id ? ", " + me.agent_id : "") + ")";
    await onReady();
  }

  // Server-Sent Events over fetch (EventSource cannot send the Authorization header).
  async function listen(onEvent) {
    let last = null;
    for (;;) {
      try {
        const headers = { Authorization: "Bearer " + key() };
        if (last) headers["Last-Event-ID"] = last;
        const r = await fetch("/v1/events", { headers });
        if (!r.ok) throw new Error("events " + r.status);
        $("live") && ($("live").style.color = "var(--green)");
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
            let id = null, kind = null;
            for (const line of block.split("\n")) {
              if (line.startsWith("id:")) id = line.slice(3).trim();
              if (line.startsWith("event:")) kind = line.slice(6).trim();
            }
            if (id) { last = id; onEvent(kind); }
          }
        }
      } catch (e) { /* reconnect below */ }
      $("live") && ($("live").style.color = "var(--muted)");
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  const ago = (iso) => {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 60 ? s + " s" : s < 3600 ? Math.round(s / 60) + " min" : Math.round(s / 3600) + " h";
  };

  // ---------------------------------------------------------------- desk
  let current = null;

  async function refreshQueue() {
    const all = await api("GET", "/v1/handoffs");
    const mine = (h) => me.agent_id && h.agent_id === me.agent_id;
    const open = all.filter((h) => h.status === "queued" || h.status === "callback" || (mine(h) && h.status !== "resolved") || (!me.agent_id && (h.status === "assigned" || h.status === "accepted")));
    const rank = { urgent: 0, high: 1, medium: 2, low: 3 };
    open.sort((a, b) => (mine(b) - mine(a)) || (rank[a.priority] - rank[b.priority]) || a.created_at.localeCompare(b.created_at));
    const ul = $("queue");
    ul.replaceChildren();
    for (const h of open) {
      const dot = el("span", { class: "dot " + (h.sentiment || ""), role: "img", "aria-label": "sentiment " + (h.sentiment || "unknown") });
      const label = el("button", { class: "open", "data-id": h.id },
        el("strong", { text: h.skill }), " ",
        el("span", { class: "badge " + h.priority, text: h.priority }), " ",
        el("span", { class: "muted", text: (mine(h) ? "mine · " : "") + h.status + " · waiting " + ago(h.queued_at || h.created_at) }));
      label.addEventListener("click", () => openHandoff(h.id));
      const li = el("li", { "data-id": h.id }, dot, label);
      if (mine(h) && h.status === "assigned") {
        const b = el("button", { class: "primary", text: "Accept" });
        b.addEventListener("click", async () => { await act("accept", { agent_id: me.agent_id }, h.id); });
        li.append(b);
      }
      ul.append(li);
    }
    $("queue-empty").classList.toggle("hidden", open.length > 0);
  }

  function sentimentChart(points) {
    const w = 260, h = 60, n = Math.max(points.length - 1, 1);
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`); svg.setAttribute("width", w); svg.setAttribute("height", h);
    svg.setAttribute("role", "img"); svg.setAttribute("aria-label", "sentiment per customer message");
    const y = (c) => h / 2 - c * (h / 2 - 6);
    const line = document.createElementNS(svg.namespaceURI, "polyline");
    line.setAttribute("points", points.map((p, i) => `${(i / n) * (w - 12) + 6},${y(p.compound)}`).join(" "));
    line.setAttribute("fill", "none"); line.setAttribute("stroke", "#59636e");
    svg.append(line);
    points.forEach((p, i) => {
      const c = document.createElementNS(svg.namespaceURI, "circle");
      c.setAttribute("cx", (i / n) * (w - 12) + 6); c.setAttribute("cy", y(p.compound)); c.setAttribute("r", 4);
      c.setAttribute("fill", { green: "#1a7f37", yellow: "#b08800", red: "#cf222e" }[p.colour]);
      svg.append(c);
    });
    return svg;
  }

  async function openHandoff(id) {
    const h = await api("GET", "/v1/handoffs/" + encodeURIComponent(id));
    current = h;
    const c = h.context;
    $("pick").classList.add("hidden");
    $("handoff").classList.remove("hidden");
    $("h-dot").className = "dot " + c.sentiment_now;
    $("h-dot").setAttribute("aria-label", "customer " + c.customer_state.mood);
    $("h-dot").title = "customer " + c.customer_state.mood + ": " + c.customer_state.because.join("; ");
    $("h-name").textContent = c.customer.name || c.customer.id;
    $("h-tier").textContent = c.customer.tier;
    $("h-priority").textContent = h.priority; $("h-priority").className = "badge " + h.priority;
    $("h-status").textContent = h.status + (h.csat ? " · CSAT " + h.csat : "");
    $("h-team").textContent = h.team + (h.agent_id ? " · " + h.agent_id : "");
    $("h-summary").textContent = c.summary;
    $("accept").classList.toggle("hidden", !(h.status === "assigned" && me.agent_id && h.agent_id === me.agent_id));
    $("reply").value = c.greeting.replace("I'm your specialist", "I'm " + (me.name || "here"));
    $("h-transcript").replaceChildren(...c.transcript.map((m) => el("div", { class: "msg " + m.role }, el("strong", { text: m.role + ": " }), m.text)));
    $("h-account").replaceChildren(el("p", { text: `${c.customer.tier} · lifetime value ${c.customer.lifetime_value} · ${c.customer.timezone || "time zone unknown"}` }),
      el("p", { text: "Flags: " + (c.customer.flags.join(", ") || "none") }),
      el("p", { text: "Issue: " + c.issue.topic + (c.issue.subtopic ? " / " + c.issue.subtopic : "") + " · reason: " + (c.issue.reason || "-") + " · evidence: \u201c" + (c.issue.evidence || "") + "\u201d" }));
    $("h-ai").replaceChildren(el("p", { text: "Tried:" }), el("ul", {}, ...c.ai_assessment.attempted.map((a) => el("li", { text: a }))),
      el("p", { text: "What failed:" + (c.ai_assessment.failed.length ? "" : " nothing known") }), el("ul", {}, ...c.ai_assessment.failed.map((a) => el("li", { text: a }))));
    $("h-sentiment").replaceChildren(sentimentChart(c.sentiment));
    $("h-actions").replaceChildren(...c.recommended_actions.map((a) => el("li", { text: a })));
    const f = c.facts;
    $("h-facts").replaceChildren(el("p", { text: "References: " + (f.references.join(", ") || "-") }), el("p", { text: "Amounts: " + (f.amounts.join(", ") || "-") }),
      el("p", { text: "Dates: " + (f.dates.join(", ") || "-") + " · windows: " + (f.windows.join(", ") || "-") }), el("p", { text: "KB articles: " + (c.kb_articles.join(", ") || "-") }));
    $("calc-amount").value = (f.amounts[0] || "").replace(/[^\d.,]/g, "").replace(",", ".");
    calc();
    const skills = ["billing", "technical", "retention", "legal", "enterprise", "general"];
    $("t-skill").replaceChildren(el("option", { value: "", text: "(none)" }), ...skills.map((s) => el("option", { value: s, text: s })));
    await refreshSuggestions();
    say("");
  }

  async function refreshSuggestions() {
    if (!current) return;
    const s = await api("GET", `/v1/handoffs/${encodeURIComponent(current.id)}/suggestions`);
    const box = $("suggestions");
    box.replaceChildren();
    for (const x of s.integrator.filter((x) => x.status === "new")) {
      const use = el("button", { text: "Use" }), dismiss = el("button", { text: "Dismiss" });
      use.addEventListener("click", () => { $("reply").value = x.text; $("reply").dataset.suggestion = x.id; $("reply").focus(); });
      dismiss.addEventListener("click", async () => { await api("POST", `/v1/handoffs/${current.id}/suggestions/${x.id}`, { status: "dismissed" }); await refreshSuggestions(); });
      box.append(el("div", { class: "suggestion", "data-source": "integrator" }, el("span", { class: "badge", text: "AI " + x.kind }), " ", x.url ? el("a", { href: x.url, text: x.text }) : x.text, el("div", { class: "row" }, use, dismiss)));
    }
    for (const x of s.baton) {
      const row = el("div", { class: "suggestion", "data-source": "baton" }, el("span", { class: "badge", text: x.kind }), " ", x.text);
      if (x.kind === "reply") { const use = el("button", { text: "Use" }); use.addEventListener("click", () => { $("reply").value = x.text; }); row.append(el("div", { class: "row" }, use)); }
      box.append(row);
    }
  }

  function calc() {
    const a = parseFloat($("calc-amount").value), p = parseFloat($("calc-pct").value);
    $("calc-out").textContent = isFinite(a) && isFinite(p) ? (Math.round(a * p) / 100).toFixed(2) : "–";
  }

  async function act(what, body, id) {
    const hid = id || current.id;
    try {
      await api("POST", `/v1/handoffs/${encodeURIComponent(hid)}/${what}`, body);
      say(what === "messages" ? "Reply sent." : "Done: " + what + ".");
      await refreshQueue();
      if (current && current.id === hid) await openHandoff(hid);
      if (what === "messages") say("Reply sent.");
    } catch (e) { say("Could not " + what + ": " + e.message); }
  }

  async function desk() {
    await signIn(async () => {
      $("status-box").classList.toggle("hidden", !me.agent_id);
      $("my-status").addEventListener("change", async (e) => { await api("PUT", `/v1/agents/${me.agent_id}/status`, { status: e.target.value }); say("Status: " + e.target.value); });
      $("accept").addEventListener("click", () => act("accept", { agent_id: me.agent_id }));
      $("send").addEventListener("click", () => {
        const body = { text: $("reply").value };
        if ($("reply").dataset.suggestion) { body.suggestion_id = $("reply").dataset.suggestion; delete $("reply").dataset.suggestion; }
        return act("messages", body);
      });
      $("transfer").addEventListener("click", () => {
        const body = { note: $("t-note").value };
        if ($("t-agent").value.trim()) body.to_agent = $("t-agent").value.trim(); else if ($("t-skill").value) body.to_skill = $("t-skill").value;
        return act("transfer", body);
      });
      $("callback").addEventListener("click", () => act("callback", { at: new Date($("cb-at").value).toISOString() }));
      $("resolve").addEventListener("click", () => act("resolve", { resolution: $("r-text").value, necessary: $("r-needed").checked, missing: $("r-missing").value || null }));
      $("calc-amount").addEventListener("input", calc); $("calc-pct").addEventListener("input", calc);
      await refreshQueue();
      const wanted = location.hash.slice(1);
      if (wanted) await openHandoff(wanted).catch(() => say("No handoff " + wanted));
      let pending = null;
      listen((kind) => {
        if (!kind.startsWith("handoff.") && !kind.startsWith("queue.") && !kind.startsWith("suggestion.") && !kind.startsWith("agent.")) return;
        clearTimeout(pending);
        pending = setTimeout(async () => { await refreshQueue(); if (kind.startsWith("suggestion.")) await refreshSuggestions(); }, 100);
      });
    });
  }

  // ---------------------------------------------------------------- dashboard
  async function dashboard() {
    await signIn(async () => {
      const s = await api("GET", "/v1/summary");
      const pct = (x) => (x == null ? "–" : Math.round(x * 100) + "%");
      const mins = (x) => (x == null ? "–" : (x / 60).toFixed(1) + " min");
      const queued = (s.by_status.queued || 0) + (s.by_status.callback || 0);
      const tiles = [["Handoff rate", pct(s.handoff_rate)], ["Time to handoff", mins(s.mean_time_to_handoff_seconds)],
        ["Resolution after handoff", mins(s.mean_resolution_seconds)], ["CSAT after handoff", s.mean_csat == null ? "–" : s.mean_csat.toFixed(2) + " (" + s.csat_count + ")"],
        ["Judged necessary", pct(s.necessary_share)], ["Queue now", String(queued)]];
      $("tiles").replaceChildren(...tiles.map(([k, v]) => el("div", { class: "tile" }, el("div", { class: "muted", text: k }), el("div", { class: "value", text: v }))));
      const entries = Object.entries(s.by_reason).sort((a, b) => b[1] - a[1]);
      const max = Math.max(1, ...entries.map((e) => e[1]));
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", `0 0 320 ${entries.length * 22 + 4}`); svg.setAttribute("width", "100%"); svg.setAttribute("role", "img"); svg.setAttribute("aria-label", "handoffs by reason");
      entries.forEach(([reason, n], i) => {
        const t = document.createElementNS(svg.namespaceURI, "text"); t.setAttribute("x", 0); t.setAttribute("y", i * 22 + 15); t.setAttribute("font-size", 11); t.textContent = reason;
        const r = document.createElementNS(svg.namespaceURI, "rect"); r.setAttribute("x", 130); r.setAttribute("y", i * 22 + 4); r.setAttribute("height", 14); r.setAttribute("width", (n / max) * 160); r.setAttribute("fill", "#0969da");
        const v = document.createElementNS(svg.namespaceURI, "text"); v.setAttribute("x", 135 + (n / max) * 160); v.setAttribute("y", i * 22 + 15); v.setAttribute("font-size", 11); v.textContent = n;
        svg.append(t, r, v);
      });
      $("reasons").replaceChildren(entries.length ? svg : el("p", { class: "muted", text: "No handoffs yet." }));
      $("agents").querySelector("tbody").replaceChildren(...s.agents.map((a) => el("tr", {}, el("td", { text: a.name }), el("td", { text: a.status }), el("td", { text: a.active + " / " + a.capacity }))));
      $("lowest").replaceChildren(...s.lowest_csat.map(([id, score, reason]) => el("li", {}, el("a", { href: "/desk#" + id, text: id }), ` CSAT ${score} · ${reason}`)));
      // Filters: teams and skills of the agents, reasons seen so far.
      const fill = (id, values) => $(id).append(...[...new Set(values)].sort().map((v) => el("option", { value: v, text: v })));
      fill("f-team", s.agents.map((a) => a.team));
      fill("f-skill", s.agents.flatMap((a) => a.skills));
      fill("f-reason", Object.keys(s.by_reason));
      const review = async () => {
        const q = new URLSearchParams();
        if ($("since").value) q.set("since", $("since").value);
        if ($("until").value) q.set("until", $("until").value);
        for (const f of ["team", "skill", "reason"]) if ($("f-" + f).value) q.set(f, $("f-" + f).value);
        const r = await api("GET", "/v1/report?" + q.toString());
        const kinds = Object.entries(r.csat_by_kind).map(([k, [m, n]]) => [`CSAT ${k.replace("_", " ")}`, `${m.toFixed(2)} (${n})`]);
        const qt = [["Mean quality", r.mean_quality == null ? "–" : r.mean_quality.toFixed(1)], ["Repeat contacts", r.repeat_contact_rate == null ? "–" : Math.round(r.repeat_contact_rate * 100) + "%"], ...kinds];
        $("quality-tiles").replaceChildren(...qt.map(([k, v]) => el("div", { class: "tile" }, el("div", { class: "muted", text: k }), el("div", { class: "value", text: v }))));
        $("review").querySelector("tbody").replaceChildren(...r.weekly_review.map((x) => el("tr", {}, el("td", { text: x.score.toFixed(1) }), el("td", {}, el("a", { href: "/desk#" + x.handoff_id, text: x.handoff_id })), el("td", { text: x.reason }), el("td", { text: x.why || "–" }))));
        $("suggestions").replaceChildren(...r.suggestions.map((x) => el("li", { text: `${x.change}: changes ${x.handoffs_changed} handoffs, ${x.unnecessary_avoided} unnecessary avoided, ${x.necessary_lost} necessary lost` })));
        $("report-notes").textContent = r.notes.join(" ");
        const days = Object.entries(r.handoffs_per_day);
        const dmax = Math.max(1, ...days.map((d) => d[1]));
        const chart = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        const cw = Math.max(days.length * 34, 60);
        chart.setAttribute("viewBox", `0 0 ${cw} 120`); chart.setAttribute("width", Math.min(cw, 900)); chart.setAttribute("role", "img"); chart.setAttribute("aria-label", "handoffs per day");
        days.forEach(([day, n], i) => {
          const h = (n / dmax) * 90;
          const r2 = document.createElementNS(chart.namespaceURI, "rect"); r2.setAttribute("x", i * 34 + 4); r2.setAttribute("y", 100 - h); r2.setAttribute("width", 26); r2.setAttribute("height", h); r2.setAttribute("fill", "#0969da");
          const t = document.createElementNS(chart.namespaceURI, "title"); t.textContent = `${day}: ${n}`; r2.append(t);
          const lab = document.createElementNS(chart.namespaceURI, "text"); lab.setAttribute("x", i * 34 + 17); lab.setAttribute("y", 114); lab.setAttribute("font-size", 9); lab.setAttribute("text-anchor", "middle"); lab.textContent = day.slice(5);
          chart.append(r2, lab);
        });
        $("per-day").replaceChildren(days.length ? chart : el("p", { class: "muted", text: "No handoffs in this period." }));
      };
      $("apply").addEventListener("click", review);
      await review();
    });
  }

  return { desk, dashboard };
})();
