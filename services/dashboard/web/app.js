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
    loadKnownPictures();
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
  const limits = [];
  if (station.web_mode === "allow_only") limits.push("Web: only listed sites");
  if (station.web_mode === "block_only") limits.push("Web: listed sites blocked");
  if (station.usb_locked) limits.push("USB locked");
  if (station.showing) {
    const source = stations.get(station.showing);
    limits.push("Shows " + (source ? source.name : station.showing));
  }
  card.querySelector(".limits").textContent = limits.join(" · ");
  // A picture only of a session; a free station shows its state.
  if (!station.user) showThumb(card, false);
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
  renderProjection();
}

// "Stop projecting" is there while any station shows another's desktop.
function renderProjection() {
  $("project-stop").hidden = ![...stations.values()].some((s) => s.showing);
}

function renderSelection() {
  const count = selected.size;
  $("selection-count").textContent = count === 0 ? "No station selected" :
    count === stations.size ? "All " + count + " stations selected" :
    count + (count === 1 ? " station selected" : " stations selected");
  for (const id of ["block", "unblock", "message", "logoff", "web", "usb", "project", "apps",
    "disconnect"]) {
    $(id).disabled = count === 0;
  }
  renderProjection();
  $("enlarge").disabled = count !== 1;
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

function webLimit() {
  openDialog("web-dialog", () => {
    const mode = document.querySelector('input[name="web-mode"]:checked').value;
    const body = { stations: target(), mode };
    if (mode === "allow_only" || mode === "block_only") {
      body.domains = $("web-domains").value.split(/[\s,;]+/).map((d) => d.trim()).filter(Boolean);
      if (body.domains.length === 0) {
        toast("Give at least one site for this mode.", true);
        return;
      }
    }
    run("Web access set for", "/api/web", body);
  });
}

function usbLock() {
  const dialog = $("usb-dialog");
  if (dialog.open || selected.size === 0) return;
  for (const span of dialog.querySelectorAll(".dialog-target")) span.textContent = describeTarget();
  dialog.onclose = () => {
    const value = dialog.returnValue;
    if (value !== "lock" && value !== "unlock") return;
    run(value === "lock" ? "Locked USB storage on" : "Unlocked USB storage on", "/api/usb",
      { stations: target(), locked: value === "lock" });
  };
  dialog.returnValue = "";
  dialog.showModal();
}

function logOff() {
  openDialog("logoff-dialog", () => run("Logged off", "/api/logoff", { stations: target() }));
}

// --- Projection, applications, disconnect ----------------------------------------------------

function project() {
  const source = $("project-source");
  const inUse = [...stations.values()].filter((s) => s.user);
  source.replaceChildren(...inUse.map((s) => {
    const option = document.createElement("option");
    option.value = s.key;
    option.textContent = s.name + " (" + s.user + ")";
    option.selected = selected.has(s.key);
    return option;
  }));
  if (inUse.length === 0) return toast("Nobody is logged on: there is no desktop to project.", true);
  openDialog("project-dialog", () => {
    const to = document.querySelector('input[name="project-to"]:checked').value;
    const targets = to === "all" ? "all" : [...selected].filter((key) => key !== source.value);
    if (targets.length === 0) return toast("Select the stations that should show it.", true);
    const name = stations.get(source.value).name;
    api("POST", "/api/project", { source: source.value, stations: targets }).then((result) => {
      const failed = (result.results || []).filter((r) => !r.ok);
      toast(failed.length === 0 ? "Projecting " + name + "." :
        "Projecting " + name + "; not on " + failed.map((r) => r.station + " (" + r.error + ")")
          .join(", "), failed.length > 0);
    }).catch((error) => toast(error.message, true));
  });
}

function stopProjecting() {
  api("POST", "/api/project/stop", { stations: "all" })
    .then(() => toast("Every station shows its own desktop again."))
    .catch((error) => toast(error.message, true));
}

async function apps() {
  let list;
  try {
    list = (await api("GET", "/api/apps")).apps;
  } catch (error) {
    return toast(error.message, true);
  }
  if (list.length === 0) return toast("No applications are listed (mp-session --apps).", true);
  $("apps-name").replaceChildren(...list.map((name) => {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    return option;
  }));
  const dialog = $("apps-dialog");
  if (dialog.open || selected.size === 0) return;
  for (const span of dialog.querySelectorAll(".dialog-target")) span.textContent = describeTarget();
  dialog.onclose = () => {
    const value = dialog.returnValue;
    if (value !== "launch" && value !== "close") return;
    const app = $("apps-name").value;
    run((value === "launch" ? "Launched " : "Closed ") + app + " on", "/api/apps/" + value,
      { app, stations: target() });
  };
  dialog.returnValue = "";
  dialog.showModal();
}

// --- Schedules -------------------------------------------------------------------------------

const DAY_NAMES = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" };

function describeDays(days) {
  const all = Object.keys(DAY_NAMES);
  if (days.length === 7) return "Every day";
  if (days.join() === all.slice(0, 5).join()) return "Mon–Fri";
  return days.map((d) => DAY_NAMES[d]).join(", ");
}

function describeAction(action) {
  if (action.type === "block") return "Block: " + action.message;
  if (action.type === "usb_lock") return "Lock USB storage";
  if (action.mode === "off") return "Web: no limit";
  const sites = action.domains.slice(0, 3).join(", ") + (action.domains.length > 3 ? ", …" : "");
  return (action.mode === "allow_only" ? "Web: only " : "Web: not ") + sites;
}

function describeScope(scope) {
  if (scope === "all") return "Everyone";
  if (scope.station) return stations.has(scope.station) ? stations.get(scope.station).name : scope.station;
  return "Group " + scope.group;
}

async function loadSchedules() {
  let list;
  try {
    list = (await api("GET", "/api/schedules")).schedules;
  } catch (error) {
    return toast(error.message, true);
  }
  $("schedules-empty").hidden = list.length > 0;
  $("schedules-table").hidden = list.length === 0;
  $("schedules-list").replaceChildren(...list.map((s) => {
    const row = document.createElement("tr");
    for (const text of [s.label || "—", describeScope(s.scope),
      describeDays(s.days) + " " + s.from + "–" + s.to, describeAction(s.action)]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "quiet";
    remove.textContent = "Remove";
    remove.addEventListener("click", async () => {
      try {
        await api("POST", "/api/schedules/remove", { id: s.id });
        toast("Schedule removed.");
      } catch (error) {
        toast(error.message, true);
      }
      loadSchedules();
    });
    const cell = document.createElement("td");
    cell.append(remove);
    row.append(cell);
    return row;
  }));
}

function scheduleActionChanged() {
  const kind = $("schedule-action").value;
  $("schedule-detail").hidden = $("schedule-detail-label").hidden = kind === "usb_lock";
  $("schedule-detail-label").textContent = kind === "block" ? "Message on the screens" :
    "Sites, one per line";
}

async function addSchedule() {
  const kind = $("schedule-action").value;
  const detail = $("schedule-detail").value;
  const action = kind === "block" ? { type: "block", message: detail.trim() } :
    kind === "usb_lock" ? { type: "usb_lock" } :
      { type: "web", mode: kind, domains: detail.split(/\s+/).filter((d) => d) };
  const forAll = $("schedule-for").value === "all";
  if (!forAll && selected.size === 0) return toast("Select the stations first.", true);
  const body = {
    stations: forAll ? "all" : [...selected],
    days: [...document.querySelectorAll('input[name="day"]:checked')].map((e) => e.value),
    from: $("schedule-from").value, to: $("schedule-to").value === "00:00" ? "24:00" : $("schedule-to").value,
    label: $("schedule-label").value.trim(), action,
  };
  try {
    await api("POST", "/api/schedules/add", body);
    toast("Schedule added.");
  } catch (error) {
    toast(error.message, true);
  }
}

function schedules() {
  const dialog = $("schedules-dialog");
  if (dialog.open) return;
  scheduleActionChanged();
  dialog.onclose = null;
  loadSchedules();
  dialog.returnValue = "";
  dialog.showModal();
}

function disconnectStations() {
  openDialog("disconnect-dialog",
    () => run("Disconnected", "/api/disconnect", { stations: target() }));
}

// --- Screens: thumbnails, the live view, take control ----------------------------------------

// Per picture slot (a card, the live view): whether an image is on its way, and whether a newer
// one was announced meanwhile. The server always serves the newest, so a slow network loads one
// picture at a time and then the newest, never a queue of old ones.
const pictures = new Map(); // slot -> { loading, again }
let pictureLoads = 0;

function pictureUrl(key, stream) {
  // A new address each time: an <img> does not load the same address twice.
  return "/api/stations/" + encodeURIComponent(key) + "/thumbnail.jpg?stream=" + stream +
    "&n=" + ++pictureLoads;
}

function showThumb(card, on) {
  const img = card.querySelector(".thumb");
  img.hidden = !on;
  card.querySelector(".screen").classList.toggle("has-thumb", on);
}

function loadPicture(slot, img, key, stream, onShown) {
  let state = pictures.get(slot);
  if (!state) pictures.set(slot, state = { loading: false, again: false });
  if (state.loading) {
    state.again = true;
    return;
  }
  state.loading = true;
  state.again = false;
  const settle = (ok) => {
    state.loading = false;
    onShown(ok);
    if (state.again) loadPicture(slot, img, key, stream, onShown);
  };
  img.onload = () => settle(true);
  img.onerror = () => settle(false);
  img.src = pictureUrl(key, stream);
}

function loadCardPicture(key) {
  const card = cardFor(key);
  if (card) loadPicture("card|" + key, card.querySelector(".thumb"), key, 0, (ok) => showThumb(card, ok));
}

function onThumbnail(event) {
  const { station: key, stream } = JSON.parse(event.data);
  if (stream === 0) loadCardPicture(key);
  // The live view shows the grid's picture until its own, larger one comes.
  if (live.key === key && (stream === 1 || !live.hasOwnStream)) {
    loadPicture("live", $("live-image"), key, stream, (ok) => {
      if (ok && stream === 1) live.hasOwnStream = true;
    });
  }
}

// Pictures that exist already when the list is (re)loaded.
function loadKnownPictures() {
  for (const [key, station] of stations) if (station.user) loadCardPicture(key);
}

const live = { key: "", hasOwnStream: false, renewTimer: 0, controlling: false, lastEscape: 0 };

function enlarge(key) {
  const station = stations.get(key);
  if (!station || $("live-view").open) return;
  live.key = key;
  live.hasOwnStream = false;
  pictures.delete("live");
  $("live-name").textContent = station.name + (station.user ? " · " + station.user : "");
  $("live-status").textContent = "Connecting…";
  const card = cardFor(key);
  const thumb = card && card.querySelector(".thumb");
  $("live-image").src = thumb && !thumb.hidden ? thumb.src : "";
  $("live-view").showModal();
  renewLive();
  live.renewTimer = setInterval(renewLive, 2000);
}

async function renewLive() {
  try {
    await api("POST", "/api/stations/" + encodeURIComponent(live.key) + "/live", { on: true });
    $("live-status").textContent = live.controlling ? "You have control — Esc twice to stop" : "Live";
  } catch (error) {
    $("live-status").textContent = error.message;
  }
}

function closeLive() {
  if (!live.key) return;
  setControl(false);
  clearInterval(live.renewTimer);
  const key = live.key;
  live.key = "";
  api("POST", "/api/stations/" + encodeURIComponent(key) + "/live", { on: false }).catch(() => {});
  if ($("live-view").open) $("live-view").close();
}

// Input for the station goes out in order, in batches, one request at a time.
const inputQueue = [];
let inputSending = false;
let pendingMove = null;

function queueInput(event) {
  inputQueue.push(event);
  sendInput();
}

async function sendInput() {
  if (inputSending || inputQueue.length === 0 || !live.key) return;
  inputSending = true;
  const batch = inputQueue.splice(0, 64);
  try {
    await api("POST", "/api/stations/" + encodeURIComponent(live.key) + "/input", { events: batch });
  } catch (error) {
    $("live-status").textContent = error.message;
  }
  inputSending = false;
  sendInput();
}

function setControl(on) {
  live.controlling = on;
  $("take-control").setAttribute("aria-pressed", on ? "true" : "false");
  $("take-control").textContent = on ? "Stop control" : "Take control";
  $("live-view").classList.toggle("controlling", on);
  $("live-status").textContent = on ? "You have control — Esc twice to stop" : "Live";
  if (!on) {
    // Keys still held go up, so nothing stays pressed on the station.
    for (const keysym of heldKeys.values()) queueInput({ type: "key", keysym, down: false });
    heldKeys.clear();
  }
}

function pointerAt(event) {
  const box = $("live-image").getBoundingClientRect();
  const clamp = (v) => Math.min(1, Math.max(0, v));
  return {
    type: "move",
    x: clamp((event.clientX - box.left) / box.width),
    y: clamp((event.clientY - box.top) / box.height),
  };
}

// X keysyms of the keys that are not characters.
const NAMED_KEYSYMS = {
  Enter: 0xff0d, Backspace: 0xff08, Tab: 0xff09, Escape: 0xff1b, Delete: 0xffff,
  Home: 0xff50, ArrowLeft: 0xff51, ArrowUp: 0xff52, ArrowRight: 0xff53, ArrowDown: 0xff54,
  PageUp: 0xff55, PageDown: 0xff56, End: 0xff57, Insert: 0xff63, CapsLock: 0xffe5,
  ShiftLeft: 0xffe1, ShiftRight: 0xffe2, ControlLeft: 0xffe3, ControlRight: 0xffe4,
  AltLeft: 0xffe9, AltRight: 0xffea, MetaLeft: 0xffeb, MetaRight: 0xffec,
};

function keysymOf(event) {
  if (NAMED_KEYSYMS[event.code] && /^(Shift|Control|Alt|Meta)/.test(event.code)) {
    return NAMED_KEYSYMS[event.code];
  }
  if (NAMED_KEYSYMS[event.key]) return NAMED_KEYSYMS[event.key];
  const f = /^F([1-9]|1[0-2])$/.exec(event.key);
  if (f) return 0xffbe + Number(f[1]) - 1;
  const chars = [...event.key];
  if (chars.length !== 1) return 0; // "Dead", "Unidentified", …
  const cp = chars[0].codePointAt(0);
  return cp < 0x100 ? cp : 0x01000000 + cp;
}

// The keysym each physical key went down with: it goes up with the same one, even when Shift
// was let go in between ("A" down, "a" up would leave "A" held on the station).
const heldKeys = new Map(); // event.code -> keysym

function onControlKey(event) {
  if (!live.controlling) return;
  event.preventDefault();
  event.stopPropagation();
  if (event.type === "keydown" && event.key === "Escape") {
    const now = Date.now();
    if (now - live.lastEscape < 600) {
      setControl(false);
      return;
    }
    live.lastEscape = now;
  }
  if (event.type === "keydown") {
    if (event.repeat && heldKeys.has(event.code)) {
      const keysym = heldKeys.get(event.code);
      queueInput({ type: "key", keysym, down: true });
      return;
    }
    const keysym = keysymOf(event);
    if (!keysym) return;
    heldKeys.set(event.code, keysym);
    queueInput({ type: "key", keysym, down: true });
  } else {
    const keysym = heldKeys.get(event.code);
    if (keysym === undefined) return;
    heldKeys.delete(event.code);
    queueInput({ type: "key", keysym, down: false });
  }
}

function wireLiveView() {
  const image = $("live-image");
  image.addEventListener("mousemove", (event) => {
    if (!live.controlling) return;
    // At most one move per animation frame (~30–60 a second), the newest.
    const first = pendingMove === null;
    pendingMove = pointerAt(event);
    if (first) {
      requestAnimationFrame(() => {
        if (pendingMove) queueInput(pendingMove);
        pendingMove = null;
      });
    }
  });
  for (const type of ["mousedown", "mouseup"]) {
    image.addEventListener(type, (event) => {
      if (!live.controlling) return;
      event.preventDefault();
      queueInput(pointerAt(event));
      queueInput({ type: "button", button: [1, 2, 3][event.button] || 1, down: type === "mousedown" });
    });
  }
  image.addEventListener("wheel", (event) => {
    if (!live.controlling) return;
    event.preventDefault();
    const button = event.deltaY < 0 ? 4 : 5;
    queueInput({ type: "button", button, down: true });
    queueInput({ type: "button", button, down: false });
  }, { passive: false });
  image.addEventListener("contextmenu", (event) => { if (live.controlling) event.preventDefault(); });
  document.addEventListener("keydown", onControlKey, true);
  document.addEventListener("keyup", onControlKey, true);
  $("take-control").addEventListener("click", () => setControl(!live.controlling));
  $("live-close").addEventListener("click", closeLive);
  // Esc belongs to the station while in control; otherwise it closes the view.
  $("live-view").addEventListener("cancel", (event) => {
    if (live.controlling) event.preventDefault();
  });
  $("live-view").addEventListener("close", closeLive);
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
  source.addEventListener("thumbnail", onThumbnail);
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
  else if (key === "p" && selected.size > 0) project();
  else if (key === "s") schedules();
  else if (key === "w") webLimit();
  else if (key === "e" && selected.size === 1) enlarge([...selected][0]);
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
$("grid").addEventListener("dblclick", (event) => {
  const card = event.target.closest(".card");
  if (card) enlarge(card.dataset.key);
});
$("select-all").addEventListener("click", toggleAll);
$("enlarge").addEventListener("click", () => { if (selected.size === 1) enlarge([...selected][0]); });
wireLiveView();
$("block").addEventListener("click", block);
$("unblock").addEventListener("click", unblock);
$("message").addEventListener("click", message);
$("logoff").addEventListener("click", logOff);
$("project").addEventListener("click", project);
$("project-stop").addEventListener("click", stopProjecting);
$("apps").addEventListener("click", apps);
$("disconnect").addEventListener("click", disconnectStations);
$("schedules").addEventListener("click", schedules);

// Admins only (the server refuses others): the whole machine, after the dialog's question.
const POWER_DONE = { restart: "The server is restarting.", shutdown: "The server is shutting down." };
$("server-power").addEventListener("click", () => {
  const dialog = $("server-dialog");
  if (dialog.open) return;
  dialog.onclose = async () => {
    const action = dialog.returnValue;
    if (!(action in POWER_DONE)) return;
    try {
      await api("POST", "/api/manager/server", { action, confirm: true });
      toast(POWER_DONE[action]);
    } catch (error) {
      toast(error.message, true);
    }
  };
  dialog.returnValue = "";
  dialog.showModal();
});
$("schedule-action").addEventListener("change", scheduleActionChanged);
// "Add schedule" keeps the dialog open: the list shows the new one at once.
$("schedule-form").addEventListener("submit", async (event) => {
  if (event.submitter && event.submitter.value === "add") {
    event.preventDefault();
    await addSchedule();
    loadSchedules();
  }
});
$("web").addEventListener("click", webLimit);
$("usb").addEventListener("click", usbLock);
// A list from a file goes into the box, to be checked before Apply.
$("web-import").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  if (file.size > 60000) {
    toast("That list is too long for the page (60 KB); use mpctl web allow|block --from-file.", true);
    return;
  }
  $("web-domains").value = (await file.text()).split(/\r?\n/)
    .map((line) => line.replace(/#.*/, "").trim()).filter(Boolean).join("\n");
  event.target.value = "";
});
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
    $("server-power").hidden = me.role !== "admin";
  } catch (_) {
    return; // api() went to the login page
  }
  listen();
})();
