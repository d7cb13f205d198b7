// A page drawn for its user (personal data by role) that the live stream only tells "changed":
// it reloads when the stream's state differs from the first one, unless a form is being filled.
(function () {
  "use strict";
  const root = document.getElementById("live");
  if (!root || !window.EventSource) return;
  let first = null;
  const source = new EventSource(root.dataset.live);
  source.addEventListener("state", (ev) => {
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
    if (first === null) { first = ev.data; return; }
    if (ev.data === first) return;
    const busy = document.activeElement && ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (busy) { root.dataset.stale = "1"; return; }
    source.close();
    window.location.reload();
  });
})();
