// The Manager page (role admin): users, station names, services and the audit log, through
// /api/manager/*. Every mutating call sends the session's CSRF token (from /api/me). Text from
// the server is only ever set as textContent.
"use strict";

let csrfToken = "";
let toastTimer = 0;
const $ = (id) => document.getElementById(id);

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
  if (!response.ok) throw new Error(result.error || "the request failed (" + response.status + ")");
  return result;
}

function toast(text, bad) {
  const element = $("toast");
  element.textContent = text;
  element.classList.toggle("bad", Boolean(bad));
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { element.hidden = true; }, bad ? 8000 : 3500);
}

// Runs `call`, then reloads the tab; says how it went.
async function act(call, done, reload) {
  try {
    await call();
    toast(done);
  } catch (error) {
    toast(error.message, true);
  }
  reload();
}

// Resolves true when the person confirms in the dialog.
function confirmStep(title, text, okLabel) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  row.appendChild(td);
  return td;
}

function buttonCell(row, label, onClick, warn) {
  const td = document.createElement("td");
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  if (warn) button.className = "warn";
  button.addEventListener("click", onClick);
  td.appendChild(button);
  row.appendChild(td);
}

function fill(tbodyId, items, render) {
  const body = $(tbodyId);
  body.replaceChildren();
  for (const item of items) {
    const row = document.createElement("tr");
    render(row, item);
    body.appendChild(row);
  }
}

// --- Users ----------------------------------------------------------------------------------

async function loadUsers() {
  try {
    const { users } = await api("GET", "/api/manager/users");
    fill("user-rows", users, (row, user) => {
      cell(row, user.name);
      roleCell(row, user);
      buttonCell(row, "Reset password…", () => {
        passwordUser = user.name;
        $("password-user").textContent = user.name;
        $("password-new").value = "";
        $("password-dialog").showModal();
      });
      buttonCell(row, "Remove…", async () => {
        const ok = await confirmStep("Remove " + user.name + "?",
          "The account can no longer log on. Its open sessions stay until logged off.", "Remove");
        if (!ok) return;
        act(() => api("POST", "/api/manager/users/remove", { name: user.name }),
          "Removed " + user.name, loadUsers);
      }, true);
    });
  } catch (error) {
    toast(error.message, true);
  }
}

const ROLES = { standard: "standard (student)", dashboard: "dashboard (teacher)", admin: "admin" };

// The role as a menu: choosing another one changes it at once (after a confirmation).
function roleCell(row, user) {
  const td = document.createElement("td");
  const select = document.createElement("select");
  select.setAttribute("aria-label", "Role of " + user.name);
  for (const [value, label] of Object.entries(ROLES)) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    option.selected = value === user.role;
    select.appendChild(option);
  }
  select.addEventListener("change", async () => {
    const role = select.value;
    const ok = await confirmStep("Make " + user.name + " " + ROLES[role] + "?",
      "The new role applies from the next logon.", "Change role");
    if (!ok) {
      select.value = user.role;
      return;
    }
    act(() => api("POST", "/api/manager/users/modify", { name: user.name, role }),
      user.name + " is now " + role, loadUsers);
  });
  td.appendChild(select);
  row.appendChild(td);
}

let passwordUser = "";

$("password-dialog").addEventListener("close", () => {
  if ($("password-dialog").returnValue !== "ok") return;
  const password = $("password-new").value;
  $("password-new").value = "";
  act(() => api("POST", "/api/manager/users/modify", { name: passwordUser, password }),
    "New password set for " + passwordUser, loadUsers);
});

$("user-add-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("user-name").value.trim();
  const body = { name, role: $("user-role").value, password: $("user-password").value };
  act(async () => {
    await api("POST", "/api/manager/users/add", body);
    $("user-add-form").reset();
  }, "Added " + name, loadUsers);
});

// --- Stations -------------------------------------------------------------------------------

let renameKey = "";

async function loadStations() {
  try {
    const { stations } = await api("GET", "/api/manager/stations");
    fill("station-rows", stations, (row, station) => {
      cell(row, station.key);
      cell(row, station.name);
      cell(row, station.transport);
      cell(row, station.address);
      cell(row, station.state);
      buttonCell(row, "Rename…", () => {
        renameKey = station.key;
        $("rename-key").textContent = station.key;
        $("rename-name").value = station.name;
        $("rename-dialog").showModal();
      });
    });
  } catch (error) {
    toast(error.message, true);
  }
}

$("rename-dialog").addEventListener("close", () => {
  if ($("rename-dialog").returnValue !== "ok") return;
  const name = $("rename-name").value.trim();
  act(() => api("POST", "/api/manager/stations/rename", { key: renameKey, name }),
    "Renamed " + renameKey, loadStations);
});

// --- Services -------------------------------------------------------------------------------

async function loadServices() {
  try {
    const { services } = await api("GET", "/api/manager/services");
    fill("service-rows", services, (row, service) => {
      cell(row, service.name);
      cell(row, service.state);
      cell(row, service.pid || "");
      cell(row, service.restarts);
      cell(row, service.last_exit);
      buttonCell(row, "Restart…", async () => {
        const ok = await confirmStep("Restart " + service.name + "?",
          "The service stops and starts again; the others resync with it.", "Restart");
        if (!ok) return;
        act(() => api("POST", "/api/manager/services/restart", { service: service.name }),
          "Restarting " + service.name, loadServices);
      }, true);
    });
  } catch (error) {
    toast(error.message, true);
  }
}

// The whole machine (mp-supervisor runs the command the administrator configured). Asked twice:
// here, and the API refuses without "confirm": true.
const POWER = {
  restart: {
    title: "Restart the server?",
    text: "Every station's session ends and unsaved work is lost. Stations connect again when " +
      "the server is back, in a few minutes.",
    ok: "Restart now",
    done: "The server is restarting.",
  },
  shutdown: {
    title: "Shut down the server?",
    text: "Every station's session ends and unsaved work is lost. Nobody can use a station " +
      "until someone switches the server on again.",
    ok: "Shut down now",
    done: "The server is shutting down.",
  },
};

async function power(action) {
  const step = POWER[action];
  if (!(await confirmStep(step.title, step.text, step.ok))) return;
  act(() => api("POST", "/api/manager/server", { action, confirm: true }), step.done,
    () => {});
}

$("server-restart").addEventListener("click", () => power("restart"));
$("server-shutdown").addEventListener("click", () => power("shutdown"));

// --- Audit ----------------------------------------------------------------------------------

async function loadAudit() {
  try {
    const { entries } = await api("GET", "/api/manager/audit?limit=200");
    fill("audit-rows", entries, (row, entry) => {
      cell(row, new Date(entry.at_ns / 1e6).toLocaleString());
      cell(row, entry.operator);
      cell(row, entry.source);
      cell(row, entry.action);
      cell(row, entry.stations.join(" "));
      cell(row, entry.detail);
    });
  } catch (error) {
    toast(error.message, true);
  }
}

// --- Tabs -----------------------------------------------------------------------------------

const LOADERS = { users: loadUsers, stations: loadStations, services: loadServices, audit: loadAudit };

function show(tab) {
  for (const button of document.querySelectorAll(".tab")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  for (const name of Object.keys(LOADERS)) $("tab-" + name).hidden = name !== tab;
  LOADERS[tab]();
}

for (const button of document.querySelectorAll(".tab")) {
  button.addEventListener("click", () => show(button.dataset.tab));
}

(async function start() {
  try {
    const me = await api("GET", "/api/me");
    csrfToken = me.csrf_token;
    $("who").textContent = me.user;
    if (me.role !== "admin") {
      window.location.replace("/");
      return;
    }
    show("users");
  } catch (error) {
    toast(error.message, true);
  }
}());
