// Live updates for the campaigns page and one campaign's page (AI-6): the server sends the page's
// whole state as JSON by Server-Sent Events; this fills the same elements the server rendered.
// Data go in through textContent only, never as HTML.
(function () {
  "use strict";
  const root = document.getElementById("live");
  if (!root || !window.EventSource) return;

  function get(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? o : o[k]), obj);
  }
  function show(value) {
    return value == null ? "—" : String(value);
  }
  function fill(scope, state) {
    scope.querySelectorAll("[data-field]").forEach((el) => {
      el.textContent = show(get(state, el.dataset.field));
    });
    scope.querySelectorAll('[data-bar="all"]').forEach((el) => {
      el.querySelectorAll("[data-seg]").forEach((seg) => {
        seg.style.width = state.counts.percent[seg.dataset.seg].toFixed(2) + "%";
      });
    });
  }
  function bar(percent, key) {
    const div = document.createElement("div");
    div.className = "bar";
    div.dataset.bar = key;
    ["positive", "negative", "in_progress", "pending"].forEach((seg) => {
      const span = document.createElement("span");
      span.className = "seg-" + seg;
      span.dataset.seg = seg;
      span.style.width = percent[seg].toFixed(2) + "%";
      div.appendChild(span);
    });
    return div;
  }
  function rows(tbody, items, cells) {
    const out = items.map((item) => {
      const tr = document.createElement("tr");
      cells(item).forEach((v) => {
        const td = document.createElement("td");
        if (v instanceof Node) td.appendChild(v); else td.textContent = v == null ? "" : String(v);
        tr.appendChild(td);
      });
      return tr;
    });
    tbody.replaceChildren(...out);
  }
  const lists = {
    channels: (s) => [Object.entries(s.counts.channels),
      ([ch, v]) => [ch, v.in_progress, v.positive, v.negative, bar(v.percent, ch)]],
    results: (s) => [s.results, (r) => [r.outcome, r.reason, r.text, r.count]],
    in_progress: (s) => [s.in_progress, (a) => [a.id, a.channel, a.account, a.name, a.destination, a.started_at]],
    feed: (s) => [s.feed, (a) => [a.id, a.channel, a.account, a.name, a.destination, a.started_at,
      a.ended_at, a.outcome, a.text]],
  };

  function onCampaign(state) {
    if (state.state !== root.dataset.state) {
      window.location.reload(); // another state offers other buttons: the server draws them
      return;
    }
    fill(root, state);
    const closed = document.getElementById("window-closed");
    if (closed && state.window) closed.hidden = state.window.open;
    root.querySelectorAll("[data-list]").forEach((tbody) => {
      const [items, cells] = lists[tbody.dataset.list](state);
      rows(tbody, items, cells);
    });
  }
  function onCampaigns(state) {
    const ids = state.campaigns.map((c) => c.id).join(",");
    if (ids !== root.dataset.ids) {
      window.location.reload(); // a campaign was added: its row is drawn by the server
      return;
    }
    state.campaigns.forEach((c) => {
      const tr = root.querySelector(`[data-campaign="${c.id}"]`);
      if (tr) fill(tr, c);
    });
  }

  const source = new EventSource(root.dataset.live);
  source.addEventListener("state", (ev) => {
    const state = JSON.parse(ev.data);
    if (root.dataset.kind === "campaign") onCampaign(state); else onCampaigns(state);
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  });
})();
