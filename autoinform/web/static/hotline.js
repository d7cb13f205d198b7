// The hotline page live (HL-5): the server sends the whole state by Server-Sent Events; between
// two states the waits count up here, second by second, from when each caller joined the queue.
// Data go in through textContent only, never as HTML.
(function () {
  "use strict";
  const root = document.getElementById("hotline");
  if (!root) return;
  const limit = Number(root.dataset.limit);
  let skew = Number(root.dataset.now) * 1000 - Date.now(); // server clock minus this browser's

  function get(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? o : o[k]), obj);
  }
  function cells(tbody, items, row) {
    tbody.replaceChildren(...items.map((item) => {
      const tr = document.createElement("tr");
      row(item).forEach(([v, since]) => {
        const td = document.createElement("td");
        td.textContent = v == null ? "" : String(v);
        if (since != null) td.dataset.since = String(since);
        tr.appendChild(td);
      });
      return tr;
    }));
  }
  const lists = {
    waiting: (s) => [s.waiting, (w) => [[w.call_id], [w.caller], [w.queue], [w.joined_at], [w.waited_s, w.joined_ts]]],
    in_ivr: (s) => [s.in_ivr, (c) => [[c.call_id], [c.caller], [c.started_at], [c.menu], [c.account]]],
  };
  function tick() {
    const now = (Date.now() + skew) / 1000;
    root.querySelectorAll("td[data-since]").forEach((td) => {
      const waited = Math.max(0, Math.round(now - Number(td.dataset.since)));
      td.textContent = String(waited);
      td.parentElement.classList.toggle("over", waited > limit);
    });
  }
  setInterval(tick, 1000);
  if (!window.EventSource) return;
  const source = new EventSource(root.dataset.live);
  source.addEventListener("state", (ev) => {
    const state = JSON.parse(ev.data);
    skew = state.now_ts * 1000 - Date.now();
    root.querySelectorAll("[data-field]").forEach((el) => {
      const v = get(state, el.dataset.field);
      el.textContent = v == null ? "—" : String(v);
    });
    root.querySelectorAll("[data-list]").forEach((tbody) => {
      const [items, row] = lists[tbody.dataset.list](state);
      cells(tbody, items, row);
    });
    tick();
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  });
})();
