// LlamaPajamas web UI: chat with streamed answers, a models page and placeholder panels. Plain
// JavaScript, no dependencies; conversations and settings live in this browser's localStorage.
"use strict";

const $ = (id) => document.getElementById(id);
const store = {
  get(k, d) { try { const v = localStorage.getItem("pj." + k); return v === null ? d : JSON.parse(v); } catch { return d; } },
  set(k, v) { localStorage.setItem("pj." + k, JSON.stringify(v)); },
};
const DEFAULTS = { system: "", temperature: 0.7, top_p: 0.95, max_tokens: 512, seed: "", stop: "" };

const state = {
  conversations: store.get("conversations", []),  // [{id, title, model, messages: [{role, content}]}]
  current: store.get("current", null),
  settings: Object.assign({}, DEFAULTS, store.get("settings", {})),
  models: [],
  abort: null,
};

// ---------- API ----------
function headers() {
  const h = { "Content-Type": "application/json" };
  const key = store.get("apiKey", "");
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function askKey() {
  const dlg = $("key-dialog");
  $("key-input").value = "";
  dlg.showModal();
  await new Promise((r) => dlg.addEventListener("close", r, { once: true }));
  if (dlg.returnValue === "ok") { store.set("apiKey", $("key-input").value.trim()); return true; }
  return false;
}

async function api(path, opts = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = await fetch(path, Object.assign({ headers: headers() }, opts));
    if (res.status === 401 && await askKey()) continue;
    return res;
  }
  throw new Error("not authorised");
}

async function errorText(res) {
  try { const j = await res.json(); return (j.error && j.error.message) || res.statusText; } catch { return res.statusText; }
}

// ---------- Markdown (a safe subset: everything is escaped first) ----------
const esc = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

function inline(s) {
  const codes = [];
  s = s.replace(/`([^`\n]+)`/g, (_, c) => { codes.push(c); return "\u0000" + (codes.length - 1) + "\u0000"; });
  s = s.replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
       .replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<em>$2</em>")
       .replace(/\[([^\]\n]+)\]\((https?:\/\/[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => "<code>" + codes[+i] + "</code>");
}

function blocks(text) {
  const out = [];
  let para = [], list = null;
  const flushPara = () => { if (para.length) { out.push("<p>" + inline(para.join("<br>")) + "</p>"); para = []; } };
  const flushList = () => { if (list) { out.push(`<${list.tag}>` + list.items.map((i) => "<li>" + inline(i) + "</li>").join("") + `</${list.tag}>`); list = null; } };
  for (const line of text.split("\n")) {
    let m;
    if (!line.trim()) { flushPara(); flushList(); continue; }
    if ((m = line.match(/^(#{1,6})\s+(.*)$/))) { flushPara(); flushList(); const n = Math.min(3, m[1].length); out.push(`<h${n}>${inline(m[2])}</h${n}>`); continue; }
    if ((m = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/))) {
      flushPara();
      const tag = /\d/.test(m[1]) ? "ol" : "ul";
      if (!list || list.tag !== tag) { flushList(); list = { tag, items: [] }; }
      list.items.push(m[2]);
      continue;
    }
    if ((m = line.match(/^&gt;\s?(.*)$/))) { flushPara(); flushList(); out.push("<blockquote>" + inline(m[1]) + "</blockquote>"); continue; }
    flushList();
    para.push(line);
  }
  flushPara(); flushList();
  return out.join("");
}

function markdown(src) {
  const parts = esc(src).split(/^```/m);
  let html = "";
  parts.forEach((part, i) => {
    if (i % 2 === 0) { html += blocks(part); return; }
    const nl = part.indexOf("\n");
    const lang = nl < 0 ? "" : part.slice(0, nl).trim();
    const code = nl < 0 ? part : part.slice(nl + 1);
    html += `<pre>${lang ? `<span class="lang">${lang}</span>` : ""}<code>${code.replace(/\n$/, "")}</code></pre>`;
  });
  return html;
}

// <think>...</think> becomes a collapsible "Reasoning" section (open while it is still streaming).
function renderAssistant(text, streaming) {
  let html = "";
  const open = text.indexOf("<think>");
  if (open >= 0) {
    const close = text.indexOf("</think>", open);
    const inner = close < 0 ? text.slice(open + 7) : text.slice(open + 7, close);
    const rest = close < 0 ? "" : text.slice(close + 8);
    html += markdown(text.slice(0, open));
    html += `<details class="think"${close < 0 ? " open" : ""}><summary>Reasoning</summary>${markdown(inner.trim())}</details>`;
    html += markdown(rest.trim());
  } else {
    html = markdown(text);
  }
  return html + (streaming ? '<span class="cursor"></span>' : "");
}

// ---------- conversations ----------
function save() {
  store.set("conversations", state.conversations.slice(0, 100));
  store.set("current", state.current);
}
const conv = () => state.conversations.find((c) => c.id === state.current);

function newConversation() {
  const c = { id: Date.now().toString(36) + Math.random().toString(36).slice(2, 6), title: "New chat", model: $("model").value, messages: [] };
  state.conversations.unshift(c);
  state.current = c.id;
  save();
  renderHistory();
  renderMessages();
}

function renderHistory() {
  const ul = $("history");
  ul.innerHTML = "";
  for (const c of state.conversations) {
    const li = document.createElement("li");
    if (c.id === state.current) li.className = "active";
    const a = document.createElement("a");
    a.textContent = c.title;
    a.title = c.title;
    a.onclick = () => { state.current = c.id; save(); renderHistory(); renderMessages(); show("chat"); closeNav(); };
    const del = document.createElement("button");
    del.textContent = "\u00d7";
    del.title = "Delete";
    del.onclick = () => {
      state.conversations = state.conversations.filter((x) => x.id !== c.id);
      if (state.current === c.id) state.current = state.conversations[0] ? state.conversations[0].id : null;
      save(); renderHistory(); renderMessages();
    };
    li.append(a, del);
    ul.append(li);
  }
}

function messageEl(role, content, streaming) {
  const d = document.createElement("div");
  d.className = "msg " + role;
  const who = document.createElement("div");
  who.className = "who";
  who.textContent = role === "user" ? "You" : role === "error" ? "Error" : "Assistant";
  const b = document.createElement("div");
  b.className = "bubble";
  if (role === "assistant") b.innerHTML = renderAssistant(content, streaming);
  if (role === "assistant") d.dataset.testid = streaming ? "assistant-streaming" : "assistant-done";
  else b.textContent = content;
  d.append(who, b);
  return d;
}

function renderMessages() {
  const box = $("messages");
  box.querySelectorAll(".msg").forEach((e) => e.remove());
  const c = conv();
  $("empty").classList.toggle("hidden", !!(c && c.messages.length));
  if (!c) return;
  for (const m of c.messages) box.append(messageEl(m.role, m.content, false));
  box.scrollTop = box.scrollHeight;
}

// ---------- chat ----------
function busy(on) {
  $("send").classList.toggle("hidden", on);
  $("stop").classList.toggle("hidden", !on);
  $("input").disabled = false;
}

async function send(prompt) {
  if (!conv()) newConversation();
  const c = conv();
  c.model = $("model").value;
  c.messages.push({ role: "user", content: prompt });
  if (c.title === "New chat") c.title = prompt.slice(0, 48);
  save(); renderHistory(); renderMessages();

  const s = state.settings;
  const messages = [];
  if (s.system.trim()) messages.push({ role: "system", content: s.system.trim() });
  for (const m of c.messages) if (m.role === "user" || m.role === "assistant") messages.push({ role: m.role, content: m.content });
  const body = { model: c.model, messages, stream: true, temperature: +s.temperature, top_p: +s.top_p,
                 max_tokens: +s.max_tokens, stream_options: { include_usage: true } };
  if (s.seed !== "" && s.seed !== null) body.seed = +s.seed;
  const stops = s.stop.split(",").map((x) => x.trim()).filter(Boolean);
  if (stops.length) body.stop = stops;

  const el = messageEl("assistant", "", true);
  $("messages").append(el);
  const bubble = el.querySelector(".bubble");
  const box = $("messages");
  let text = "", usage = null;
  const t0 = performance.now();
  let tFirst = 0;
  state.abort = new AbortController();
  busy(true);
  $("statusline").textContent = "Thinking\u2026";
  try {
    const res = await api("/v1/chat/completions", { method: "POST", body: JSON.stringify(body), signal: state.abort.signal });
    if (!res.ok) throw new Error(await errorText(res));
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, at);
        buf = buf.slice(at + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          if (j.usage) usage = j.usage;
          const ch = j.choices && j.choices[0];
          if (ch && ch.delta && ch.delta.content) {
            if (!tFirst) tFirst = performance.now();
            text += ch.delta.content;
            const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
            bubble.innerHTML = renderAssistant(text, true);
            if (stick) box.scrollTop = box.scrollHeight;
          }
        }
      }
    }
    const secs = (performance.now() - (tFirst || t0)) / 1000;
    $("statusline").textContent = usage
      ? `${usage.completion_tokens} tokens \u00b7 ${(usage.completion_tokens / Math.max(secs, 1e-3)).toFixed(1)} tok/s \u00b7 first token after ${((tFirst - t0) / 1000).toFixed(2)} s`
      : "";
  } catch (e) {
    if (e.name === "AbortError") {
      $("statusline").textContent = "Stopped.";
    } else {
      $("statusline").textContent = "";
      $("messages").append(messageEl("error", String(e.message || e), false));
    }
  } finally {
    state.abort = null;
    busy(false);
    bubble.innerHTML = renderAssistant(text, false);
    el.dataset.testid = "assistant-done";
    if (text) { c.messages.push({ role: "assistant", content: text }); save(); }
  }
}

// ---------- models ----------
const size = (b) => b >= 1 << 30 ? (b / (1 << 30)).toFixed(2) + " GiB" : b >= 1 << 20 ? (b / (1 << 20)).toFixed(1) + " MiB" : (b / 1024).toFixed(0) + " KiB";

async function loadModels() {
  try {
    const res = await api("/v1/models");
    if (!res.ok) throw new Error(await errorText(res));
    state.models = (await res.json()).data;
  } catch (e) {
    $("statusline").textContent = "Could not list models: " + (e.message || e);
    return;
  }
  const sel = $("model");
  const want = sel.value || store.get("model", "");
  sel.innerHTML = "";
  for (const m of state.models) {
    const o = document.createElement("option");
    o.value = m.id;
    o.textContent = m.id + (m.quantization ? " \u00b7 " + m.quantization : "");
    sel.append(o);
  }
  if (state.models.some((m) => m.id === want)) sel.value = want;
  const body = $("models-body");
  body.innerHTML = "";
  for (const m of state.models) {
    const tr = document.createElement("tr");
    const cells = [m.id, m.format, m.architecture || "\u2013", m.quantization || "\u2013", size(m.size_bytes)];
    for (const v of cells) { const td = document.createElement("td"); td.textContent = v; tr.append(td); }
    const st = document.createElement("td");
    st.innerHTML = m.loaded ? `<span class="badge on">loaded</span> <span class="muted">${m.busy_slots} busy, ${m.queued} queued</span>` : '<span class="badge">on disk</span>';
    const act = document.createElement("td");
    const use = document.createElement("button");
    use.className = "ghost";
    use.textContent = "Chat";
    use.onclick = () => { sel.value = m.id; store.set("model", m.id); show("chat"); };
    act.append(use);
    tr.append(st, act);
    body.append(tr);
  }
}

// ---------- views ----------
const PLACEHOLDERS = {
  quantize: ["Quantize", "Shrink models to smaller number formats and compare the results."],
  evaluate: ["Evaluate", "Measure perplexity and accuracy of models side by side."],
};

function show(view) {
  document.querySelectorAll(".nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === view));
  $("view-chat").classList.toggle("hidden", view !== "chat");
  $("view-models").classList.toggle("hidden", view !== "models");
  if ($("view-speech")) $("view-speech").classList.toggle("hidden", view !== "speech");  // speech.js
  if ($("view-vision")) $("view-vision").classList.toggle("hidden", view !== "vision");  // vision.js
  const ph = PLACEHOLDERS[view];
  $("view-placeholder").classList.toggle("hidden", !ph);
  if (ph) { $("ph-title").textContent = ph[0]; $("ph-text").textContent = ph[1]; }
  if (view === "models") loadModels();
  if (location.hash !== "#" + view) history.replaceState(null, "", "#" + view);
}

function closeNav() { $("app").classList.remove("nav-open"); }

function applyTheme(t) {
  document.documentElement.dataset.theme = t;
  $("theme").textContent = t === "dark" ? "Light mode" : "Dark mode";
}

function bindSettings() {
  const s = state.settings;
  const fields = [["s-system", "system"], ["s-temp", "temperature"], ["s-topp", "top_p"], ["s-max", "max_tokens"], ["s-seed", "seed"], ["s-stop", "stop"]];
  const sync = () => { $("o-temp").textContent = (+s.temperature).toFixed(2); $("o-topp").textContent = (+s.top_p).toFixed(2); };
  for (const [id, key] of fields) {
    $(id).value = s[key];
    $(id).addEventListener("input", () => { s[key] = $(id).value; store.set("settings", s); sync(); });
  }
  $("s-reset").onclick = () => { Object.assign(s, DEFAULTS); store.set("settings", s); for (const [id, key] of fields) $(id).value = s[key]; sync(); };
  sync();
}

function init() {
  applyTheme(store.get("theme", matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
  $("theme").onclick = () => { const t = document.documentElement.dataset.theme === "dark" ? "light" : "dark"; store.set("theme", t); applyTheme(t); };
  $("menu").onclick = () => $("app").classList.toggle("nav-open");
  $("scrim").onclick = closeNav;
  $("settings-toggle").onclick = () => $("settings").classList.toggle("hidden");
  $("new-chat").onclick = () => { newConversation(); show("chat"); closeNav(); };
  $("models-refresh").onclick = loadModels;
  $("model").onchange = () => { store.set("model", $("model").value); const c = conv(); if (c) { c.model = $("model").value; save(); } };
  document.querySelectorAll(".nav a").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); show(a.dataset.view); closeNav(); }));
  const input = $("input");
  input.addEventListener("input", () => { input.style.height = "auto"; input.style.height = input.scrollHeight + "px"; });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); } });
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || state.abort) return;
    input.value = "";
    input.style.height = "auto";
    send(text);
  });
  $("stop").onclick = () => { if (state.abort) state.abort.abort(); };
  bindSettings();
  renderHistory();
  renderMessages();
  loadModels();
  const start = (location.hash || "#chat").slice(1);
  show(start in PLACEHOLDERS || ["models", "speech", "vision"].includes(start) ? start : "chat");
}

init();
