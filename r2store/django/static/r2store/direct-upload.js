// r2store direct uploads: the file goes from the browser straight to the bucket.
//
// An ES module with no framework and no build step. For each [data-r2store-upload]
// element (DirectUploadWidget renders them): when a file is chosen, POST its name,
// size and type to data-ticket-url (with Django's CSRF token and the field's signed
// policy), PUT the file to the ticket's URL with the ticket's headers, show the
// progress, and put the ticket's token in the hidden input the form submits.

const CSRF_COOKIE = /(?:^|;\s*)csrftoken=([^;]+)/;
// For a ticket answer that is not a ticket: most likely the session ended and the
// request was sent to a login page, which a reload (or a new sign-in) mends.
const RELOAD = "The upload could not start: reload the page (or sign in again).";

function csrfToken(form) {
  const field = form && form.querySelector("input[name=csrfmiddlewaretoken]");
  if (field) return field.value;
  const cookie = document.cookie.match(CSRF_COOKIE);
  return cookie ? decodeURIComponent(cookie[1]) : "";
}

function isJson(response) {
  const type = response.headers.get("Content-Type") || "";
  return type.split(";")[0].trim().toLowerCase() === "application/json";
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isTicket(answer) {
  return (
    isObject(answer) &&
    typeof answer.url === "string" &&
    typeof answer.token === "string" &&
    isObject(answer.headers) &&
    Object.values(answer.headers).every((value) => typeof value === "string")
  );
}

async function requestTicket(root, file, signal) {
  const response = await fetch(root.dataset.ticketUrl, {
    method: "POST",
    signal,
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      "X-CSRFToken": csrfToken(root.closest("form")),
      "X-R2store-Policy": root.dataset.policy,
    },
    body: JSON.stringify({ filename: file.name, size: file.size, type: file.type }),
  });
  // The endpoint never redirects: a redirect went to a login page (login_required).
  if (response.redirected) throw new Error(RELOAD);
  let answer = null;
  try {
    if (isJson(response)) answer = await response.json();
  } catch {
    // Not JSON after all: as for any other page.
  }
  if (!response.ok) {
    // Not JSON (a CSRF failure page, say): the status says enough.
    const error = isObject(answer) && typeof answer.error === "string" ? answer.error : "";
    throw new Error(error || `the upload was refused (${response.status})`);
  }
  if (!isTicket(answer)) throw new Error(RELOAD);
  return answer;
}

function putFile(ticket, file, progress, signal) {
  // XMLHttpRequest, not fetch: only it reports upload progress.
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new Error("the upload was cancelled"));
      return;
    }
    const request = new XMLHttpRequest();
    signal.addEventListener("abort", () => {
      request.abort();
      reject(new Error("the upload was cancelled"));
    });
    request.open("PUT", ticket.url);
    for (const [name, value] of Object.entries(ticket.headers)) {
      request.setRequestHeader(name, value);
    }
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) {
        progress.max = event.total;
        progress.value = event.loaded;
      }
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) resolve();
      else reject(new Error(`the upload failed (${request.status})`));
    });
    request.addEventListener("error", () => reject(new Error("the upload failed (network)")));
    request.send(file);
  });
}

export function attach(root) {
  if (root.dataset.r2storeReady) return;
  root.dataset.r2storeReady = "1";
  const input = root.querySelector("input[type=file]");
  const hidden = root.querySelector("input[type=hidden]");
  const progress = root.querySelector("progress");
  const status = root.querySelector("[data-r2store-status]");
  let current = 0;
  let running = null; // the AbortController of the upload in flight

  input.addEventListener("change", async () => {
    const file = input.files[0];
    const upload = ++current;
    // A new choice, or none, ends the upload before it: its file is no longer wanted.
    if (running) running.abort();
    running = null;
    hidden.value = "";
    progress.max = 100;
    progress.value = 0;
    if (!file) {
      // Cleared (Chrome does so when its file dialog is cancelled): back to no upload,
      // so that the form can be submitted without one.
      delete root.dataset.state;
      progress.hidden = true;
      status.textContent = "";
      return;
    }
    const controller = (running = new AbortController());
    root.dataset.state = "uploading";
    progress.hidden = false;
    status.textContent = "Uploading…";
    try {
      const ticket = await requestTicket(root, file, controller.signal);
      await putFile(ticket, file, progress, controller.signal);
      if (upload !== current) return; // another file was chosen meanwhile
      running = null;
      hidden.value = ticket.token;
      progress.value = progress.max;
      root.dataset.state = "done";
      status.textContent = "Uploaded";
    } catch (error) {
      if (upload !== current) return;
      running = null;
      root.dataset.state = "error";
      status.textContent = error.message;
    }
  });

  const form = root.closest("form");
  if (form) {
    form.addEventListener("submit", (event) => {
      if (root.dataset.state === "uploading") {
        event.preventDefault();
        status.textContent = "Please wait for the upload to finish.";
      }
    });
  }
}

export function attachAll(scope = document) {
  for (const root of scope.querySelectorAll("[data-r2store-upload]")) attach(root);
}

attachAll();
// The admin adds inline rows later, and says so with this event.
document.addEventListener("formset:added", (event) => attachAll(event.target));
