// The login page: sends the credentials as JSON and goes to the dashboard once a session
// cookie is set. Nothing is stored in the page: the cookie is HttpOnly.
"use strict";

const form = document.getElementById("login-form");
const errorLine = document.getElementById("login-error");
const button = document.getElementById("login-button");

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = document.getElementById("user").value.trim();
  const password = document.getElementById("password").value;
  if (!user || !password) {
    showError("Enter your user name and password.");
    return;
  }
  button.disabled = true;
  errorLine.hidden = true;
  try {
    const response = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ user, password }),
    });
    if (response.ok) {
      window.location.replace("/");
      return;
    }
    let message = "Logging in failed (" + response.status + ").";
    try {
      const body = await response.json();
      if (body.error) message = body.error.charAt(0).toUpperCase() + body.error.slice(1) + ".";
    } catch (_) {
      // Not JSON: keep the status line.
    }
    showError(message);
    document.getElementById("password").select();
  } catch (_) {
    showError("The dashboard cannot be reached.");
  } finally {
    button.disabled = false;
  }
});
