// Thunderline console: live updates without a reload. The server sends the event outbox as
// server-sent events; when one concerns this page (body[data-live]: "all", or the
// federations it shows), the page is fetched again and its <main> swapped in place, at most
// once a second however many events arrive (a busy fleet sends many).
"use strict";
(function () {
  const watched = document.body.dataset.live || "";
  if (!watched || !window.EventSource) return;
  const keys = watched === "all" ? null : new Set(watched.split(" "));
  const state = document.getElementById("live-state");
  const GAP_MS = 1000;
  let pending = null;
  let busy = false;
  let last = 0;

  async function refresh() {
    pending = null;
    if (busy) { pending = setTimeout(refresh, 100); return; }
    busy = true;
    last = Date.now();
    try {
      const answer = await fetch(window.location.href, { credentials: "same-origin" });
      if (answer.ok) {
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        const fresh = page.getElementById("live");
        const main = document.getElementById("live");
        const typing = document.activeElement && document.activeElement.matches("input, select, textarea");
        if (fresh && main && !(typing && main.contains(document.activeElement))) main.replaceWith(fresh);
        else if (fresh && main) pending = setTimeout(refresh, 500); // a filter is being typed
        document.body.dataset.refreshed = String(Date.now());
      }
    } finally {
      busy = false;
    }
  }

  const stream = new EventSource("/api/v1/events/stream");
  stream.onopen = function () { state && state.classList.add("on"); };
  stream.onerror = function () { state && state.classList.remove("on"); };
  stream.addEventListener("fl", function (message) {
    const event = JSON.parse(message.data);
    if (keys && !keys.has(event.federation)) return;
    if (pending === null) pending = setTimeout(refresh, Math.max(50, last + GAP_MS - Date.now()));
  });
})();
