// The operator's desk (issue 13): the card of the call on this operator's line, as the server
// sends it by Server-Sent Events (/live/desk: this user's own topic). Data go in through
// textContent only, never as HTML.
(function () {
  "use strict";
  const card = document.getElementById("card");
  if (!card) return;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text != null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(dl, label, value) {
    if (value == null || value === "" || (Array.isArray(value) && !value.length)) return;
    dl.appendChild(el("dt", label));
    dl.appendChild(el("dd", Array.isArray(value) ? value.join(" → ") : value));
  }
  function money(b) {
    return b ? b.amount + " ₽ на " + b.as_of + (b.debt ? " (долг)" : "") : "нет данных";
  }
  function local(iso) {
    return iso ? new Date(iso).toLocaleString("ru-RU") : "";
  }
  function render(state) {
    const call = state.call;
    card.replaceChildren();
    card.dataset.call = call ? call.call_id : "";
    const wrap = document.getElementById("wrapup");
    if (wrap) wrap.hidden = !call || call.wrapped;
    const field = document.getElementById("wrapup-call");
    if (field) field.value = call ? call.call_id : "";
    if (!call) {
      card.appendChild(el("p", "Сейчас звонка нет.")).id = "no-call";
      return;
    }
    card.appendChild(el("p", call.on_line ? "На линии" : "Звонок завершён: заполните итог", "call-state"));
    const dl = el("dl");
    dl.id = "call-facts";
    row(dl, "Номер", call.caller);
    row(dl, "Л/с, набранный в меню", call.account_typed);
    row(dl, "Путь по меню", call.menu_path);
    row(dl, "Ждал в очереди, с", call.waited_s);
    row(dl, "В меню до оператора, с", call.in_ivr_s);
    row(dl, "Соединён", local(call.connected_at));
    if (call.balance) row(dl, "Баланс", money(call.balance));
    card.appendChild(dl);

    card.appendChild(el("h3", call.found_by === "number" && call.customers.length > 1
      ? "Абоненты с этим номером (" + call.customers.length + ")" : "Абонент"));
    if (!call.customers.length) card.appendChild(el("p", "Не найден ни по лицевому счёту, ни по номеру."));
    call.customers.forEach((c) => {
      const box = el("div", null, "customer");
      box.dataset.account = c.account;
      box.appendChild(el("strong", c.account + " — " + c.name));
      box.appendChild(el("div", c.address));
      box.appendChild(el("div", "Баланс: " + money(c.balance), "balance"));
      card.appendChild(box);
    });
    if (call.notice) {
      const n = el("div", null, "notice");
      n.id = "notice";
      n.appendChild(el("h3", "Только что прослушал: " + call.notice.campaign));
      n.appendChild(el("p", call.notice.text));
      n.appendChild(el("p", "Нажатые клавиши: " + (call.notice.keys.join(", ") || "нет")));
      card.appendChild(n);
    }
    function list(title, items, line, id) {
      if (!items.length) return;
      card.appendChild(el("h3", title));
      const ul = el("ul");
      ul.id = id;
      items.forEach((i) => ul.appendChild(el("li", line(i))));
      card.appendChild(ul);
    }
    list("Открытые задачи", call.open_tasks, (t) => "№" + t.id + " " + t.kind + " до " + local(t.deadline) +
      (t.overdue ? " (просрочена)" : ""), "open-tasks");
    list("Последние показания", call.readings, (r) => r.account + " " + r.register + ": " + r.value + " (" +
      r.source + ", " + local(r.at) + ")", "readings");
    list("Прошлые обращения", call.history, (h) => local(h.at) + " " + (h.topic || "") + ": " + (h.note || ""),
      "history");
  }

  const initial = document.getElementById("desk-state");
  if (initial) render(JSON.parse(initial.textContent));
  if (!window.EventSource) return;
  const source = new EventSource(document.getElementById("desk").dataset.live);
  source.addEventListener("state", (event) => render(JSON.parse(event.data)));
})();
