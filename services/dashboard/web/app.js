// The dashboard page: the station grid, selection, the toolbar's commands, live updates from
// /api/events. Every mutating call sends the session's CSRF token (from /api/me).
"use strict";

const STATE_LABELS = {
  free: "Free",
  in_use: "In use",
  blocked: "Blocked",
  disconnected: "Disconnected",
};

const stations = new Map(); // key -> station as /api/stations gives it
const selected = new Set(); // keys
let csrfToken = "";
let toastTimer = 0;

const $ = (id) => document.getElementById(id);

// --- Talking to the server ------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { "X-CSRF-Token": csrfToken };
  const options = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (response.status === 401) {
    window.location.replace("/login");
    throw new Error("logged out");
  }
  let result = {};
  try {
    result = await response.json();
  } catch (_) {
    // An empty or non-JSON body: the status says enough.
  }
  if (!response.ok) {
    const error = new Error(result.error || "the request failed (" + response.status + ")");
    error.result = result;
    throw error;
  }
  return result;
}

async function loadStations() {
  try {
    const list = await api("GET", "/api/stations");
    stations.clear();
    for (const station of list.stations) stations.set(station.key, station);
    for (const key of [...selected]) if (!stations.has(key)) selected.delete(key);
    renderAll();
  } catch (error) {
    toast(error.message, true);
  }
}

// --- Rendering ------------------------------------------------------------------------------

function cardFor(key) {
  return document.querySelector('.card[data-key="' + CSS.escape(key) + '"]');
}

function fillCard(card, station) {
  card.dataset.key = station.key;
  card.dataset.state = station.state;
  card.setAttribute("aria-checked", selected.has(station.key) ? "true" : "false");
  card.querySelector(".name").textContent = station.name;
  card.querySelector(".user").textContent = station.user || "nobody logged on";
  const badge = card.querySelector(".badge");
  badge.textContent = STATE_LABELS[station.state] || station.state;
  badge.className = "badge " + station.state;
  const label = card.querySelector(".screen-label");
  label.textContent = station.state === "blocked" ? station.block_message || "Blocked" :
    station.state === "disconnected" ? "Not connected" : station.user ? station.user : "Free";
  card.title = station.key + (station.address ? " · " + station.address : "");
}

function renderAll() {
  const grid = $("grid");
  const template = $("card-template");
  const keys = [...stations.keys()].sort((a, b) =>
    stations.get(a).name.localeCompare(stations.get(b).name, undefined, { numeric: true }));
  const cards = [];
  for (const key of keys) {
    let card = cardFor(key);
    if (!card) card = template.content.firstElementChild.cloneNode(true);
    fillCard(card, stations.get(key));
    cards.push(card);
  }
  grid.replaceChildren(...cards);
  $("empty").hidden = stations.size > 0;
  renderSelection();
}

function renderStation(station) {
  const isNew = !stations.has(station.key);
  stations.set(station.key, station);
  const card = cardFor(station.key);
  if (isNew || !card) {
    renderAll();
    return;
  }
  fillCard(card, station);
}

function renderSelection() {
  const count = selected.size;
  $("selection-count").textContent = count === 0 ? "No station selected" :
    count === stations.size ? "All " + count + " stations selected" :
    count + (count === 1 ? " station selected" : " stations selected");
  for (const id of ["block", "unblock", "message", "logoff"]) $(id).disabled = count === 0;
  $("select-all").textContent = count > 0 && count === stations.size ? "Select none" : "Select all";
  for (const card of document.querySelectorAll(".card")) {
    card.setAttribute("aria-checked", selected.has(card.dataset.key) ? "true" : "false");
  }
}

function toast(text, bad) {
  const element = $("toast");
  element.textContent = text;
  element.classList.toggle("bad", Boolean(bad));
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { element.hidden = true; }, bad ? 8000 : 3500);
}

function addReply(reply) {
  const item = document.createElement("li");
  const from = document.createElement("span");
  from.className = "from";
  const station = stations.get(reply.station);
  from.textContent = (reply.user || "?") + " on " + (station ? station.name : reply.station);
  const when = document.createElement("span");
  when.className = "when";
  when.textContent = new Date(reply.at_ms).toLocaleTimeString();
  const text = document.createElement("div");
  text.textContent = reply.text;
  item.append(from, when, text);
  $("reply-list").prepend(item);
  $("replies").hidden = false;
  toast("Reply from " + from.textContent);
}

// --- Selection and commands -----------------------------------------------------------------

function toggleAll() {
  if (selected.size === stations.size) {
    selected.clear();
  } else {
    for (const key of stations.keys()) selected.add(key);
  }
  renderSelection();
}

// "all" when every station is selected, so a block also covers stations that connect later.
function target() {
  return selected.size > 0 && selected.size === stations.size ? "all" : [...selected];
}

function describeTarget() {
  if (selected.size === stations.size) return "all stations";
  if (selected.size === 1) return stations.get([...selected][0]).name;
  return selected.size + " stations";
}

function summarize(verb, result) {
  const failed = (result.results || []).filter((r) => !r.ok);
  if (failed.length === 0) return toast(verb + " " + describeTarget() + ".");
  const reasons = failed.map((r) => r.station + ": " + r.error).join("; ");
  toast(failed.length + " failed: " + reasons, true);
}

async function run(verb, path, body) {
  try {
    summarize(verb, await api("POST", path, body));
  } catch (error) {
    if (error.result && error.result.results) {
      summarize(verb, error.result);
    } else {
      toast(error.message, true);
    }
  }
}

function openDialog(id, onOk) {
  const dialog = $(id);
  if (dialog.open || selected.size === 0) return;
  for (const span of dialog.querySelectorAll(".dialog-target")) span.textContent = describeTarget();
  dialog.onclose = () => { if (dialog.returnValue === "ok") onOk(); };
  dialog.returnValue = "";
  dialog.showModal();
}

function block() {
  openDialog("block-dialog", () =>
    run("Blocked", "/api/block", { stations: target(), message: $("block-message").value.trim() }));
}

function unblock() {
  if (selected.size === 0) return;
  run("Unblocked", "/api/unblock", { stations: target() });
}

function message() {
  $("message-text").value = "";
  openDialog("message-dialog", () => {
    const text = $("message-text").value.trim();
    if (text) run("Sent the message to", "/api/message", { stations: target(), text });
  });
}

function logOff() {
  openDialog("logoff-dialog", () => run("Logged off", "/api/logoff", { stations: target() }));
}

// --- Live updates ---------------------------------------------------------------------------

function listen() {
  const source = new EventSource("/api/events");
  const light = $("connection");
  // "hello" opens every (re)connection: whatever happened meanwhile is in a fresh list.
  source.addEventListener("hello", () => {
    light.classList.add("live");
    light.title = "Live updates: connected";
    loadStations();
  });
  source.addEventListener("resync", loadStations);
  source.addEventListener("station", (event) => renderStation(JSON.parse(event.data)));
  source.addEventListener("station_removed", (event) => {
    const { key } = JSON.parse(event.data);
    stations.delete(key);
    selected.delete(key);
    renderAll();
  });
  source.addEventListener("reply", (event) => addReply(JSON.parse(event.data)));
  source.onerror = async () => {
    light.classList.remove("live");
    light.title = "Live updates: reconnecting";
    // The browser retries by itself; a lost login needs the login page instead.
    try {
      const response = await fetch("/api/me", { credentials: "same-origin" });
      if (response.status === 401) window.location.replace("/login");
    } catch (_) {
      // The server is away; EventSource keeps trying.
    }
  };
}

// --- Wiring ---------------------------------------------------------------------------------

function typing(event) {
  const tag = event.target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || document.querySelector("dialog[open]");
}

document.addEventListener("keydown", (event) => {
  if (typing(event) || event.altKey || event.metaKey) return;
  const key = event.key.toLowerCase();
  if (event.ctrlKey) {
    if (key === "a") {
      event.preventDefault();
      toggleAll();
    }
    return;
  }
  if (key === "b") block();
  else if (key === "u") unblock();
  else if (key === "m") message();
  else if (key === "escape") {
    selected.clear();
    renderSelection();
  }
});

$("grid").addEventListener("click", (event) => {
  const card = event.target.closest(".card");
  if (!card) return;
  const key = card.dataset.key;
  if (selected.has(key)) selected.delete(key);
  else selected.add(key);
  renderSelection();
});
$("select-all").addEventListener("click", toggleAll);
$("block").addEventListener("click", block);
$("unblock").addEventListener("click", unblock);
$("message").addEventListener("click", message);
$("logoff").addEventListener("click", logOff);
$("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/api/logout");
  } finally {
    window.location.replace("/login");
  }
});

(async function start() {
  try {
    const me = await api("GET", "/api/me");
    csrfToken = me.csrf_token;
    $("who").textContent = me.user;
    // The Manager is for admins; the server refuses others anyway.
    $("manager-link").hidden = me.role !== "admin";
  } catch (_) {
    return; // api() went to the login page
  }
  listen();
})();
