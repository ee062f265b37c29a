// The console's page, as one ES module: no framework, no build step.
//
// It listens to GET /events (Server-Sent Events). The browser's EventSource reconnects by
// itself and sends the SSE id of the last event it got as Last-Event-ID: the console resumes
// every stream from there, so the page needs no bookkeeping of its own. What it does:
//   hello        what the console follows: every stream, its lane and its partition; and, for
//                a page that resumed, the streams where it was sent only the resume window
//   entry        an entry of {payments}:state or {payments}:notifications: new cards
//   dead-letter  a dead letter: listed under its group
//   progress     each group's figures and the state of each recent card, as the console
//                inferred them from Redis (console/domain.py): the page only draws them
//   fault        a chaos run injected or healed a fault ({chaos}:faults): a marker in its lane
// and it drives the flow through the console's /api/... routes.
//
// With STREAM_PARTITIONS = P each lane gathers the entries of P streams, and an entry names
// its lane as its `stream` and its partition. Entry ids are unique within one stream only, so
// a card is known by its partition and its id together (cardKey).

const MAX_CARDS = 30; // per lane: older cards leave the page
const LANE_OF_STREAM = { state: "state-transfer", notifications: "notification" };
const GROUP_OF_STREAM = { state: "orders", notifications: "notifications" };

const $ = (selector, root = document) => root.querySelector(selector);
const lane = (name) => $(`.lane[data-lane="${name}"]`);

// The card states of the latest progress, by group and card (cardKey): a card that is drawn
// after the progress that mentions it still gets its state. Each progress carries every recent
// card of every partition, so it replaces the last one.
const known = { orders: new Map(), notifications: new Map() };
const cardsOfPayment = new Map(); // payment id -> set of card elements
let selected = null; // the payment id shown in the panel
let appends = 0;
let partitioned = false; // more than one partition: cards say which one they come from

const cardKey = (item) => `${item.partition ?? 0}/${item.id}`;
const cardSelector = (item) =>
  `.card[data-partition="${item.partition ?? 0}"][data-entry-id="${item.id}"]`;

// ---- small helpers ------------------------------------------------------------------------

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    if (name.startsWith("data-") || name === "class" || name === "href" || name === "target") {
      node.setAttribute(name, String(value));
    } else {
      node[name] = value;
    }
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function clock(iso) {
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? "" : time.toLocaleTimeString([], { hour12: false })
    + "." + String(time.getMilliseconds()).padStart(3, "0");
}

function money(minor, currency) {
  return `${(minor / 100).toFixed(2)} ${currency}`;
}

function short(id) {
  return id && id.length > 13 ? `${id.slice(0, 8)}…` : id;
}

// The badge says the state; the line under it says what Redis showed to infer it.
function describeState(card) {
  const waited = card.seconds ? ` ${card.seconds} s` : "";
  switch (card.state) {
    case "pending": return `pending${waited}`;
    case "retried": return `retried ×${card.deliveries}`;
    default: return card.state;
  }
}

function explainState(card) {
  const held = card.consumer ? `held by ${card.consumer}` : "";
  switch (card.state) {
    case "published": return "in the stream, not yet delivered to the group";
    case "delivered": return `delivered, ${held}, not yet acknowledged`;
    case "pending": return card.consumer
      ? `delivered ${card.seconds} s ago, ${held}, not acknowledged`
      : `not delivered to the group for ${card.seconds} s`;
    case "retried": return `delivered ${card.deliveries} times, ${held}`;
    case "dead-lettered": return "in the group's dead letters";
    default: return "";
  }
}

// ---- cards ---------------------------------------------------------------------------------

function addCard(laneName, card, subject) {
  const list = $(".cards", lane(laneName));
  const drawn = { id: card.dataset.entryId, partition: card.dataset.partition };
  if ($(cardSelector(drawn), list)) return; // already drawn
  list.prepend(card);
  while (list.children.length > MAX_CARDS) forget(list.lastElementChild);
  if (subject) {
    if (!cardsOfPayment.has(subject)) cardsOfPayment.set(subject, new Set());
    cardsOfPayment.get(subject).add(card);
    card.tabIndex = 0; // reachable with the keyboard too
    card.addEventListener("click", () => select(subject));
    card.addEventListener("keydown", (event) => { if (event.key === "Enter") select(subject); });
    if (subject === selected) card.dataset.selected = "true";
  }
}

function forget(card) {
  card.remove();
  const cards = cardsOfPayment.get(card.dataset.subject);
  cards?.delete(card);
  if (cards?.size === 0) cardsOfPayment.delete(card.dataset.subject);
}

function cardFor(entry, state, body) {
  return element(
    "li",
    {
      class: "card",
      "data-entry-id": entry.id,
      "data-partition": entry.partition ?? 0,
      "data-stream": entry.stream,
      "data-subject": entry.subject,
      "data-type": entry.type ?? "not an event",
      "data-valid": entry.valid,
      "data-state": state,
      title: entry.valid ? `event ${entry.event_id}` : entry.error,
    },
    element("div", { class: "card-head" },
      element("span", { class: "type" }, entry.valid ? entry.type : "not an event"),
      element("span", { class: "state" }, state)),
    element("div", { class: "card-body" }, body),
    element("div", { class: "card-progress" }, explainState({ state })),
    element("div", { class: "card-meta" }, `${partitioned ? `partition ${entry.partition} · ` : ""}`
      + `${entry.id}  ${entry.valid ? clock(entry.time) : ""}`),
    entry.trace_url ? element("a", { href: entry.trace_url, target: "_blank", class: "trace" }, "trace") : null,
  );
}

function onEntry(entry) {
  const laneName = LANE_OF_STREAM[entry.stream];
  if (!laneName) return;
  const data = entry.data ?? {};
  let body;
  if (!entry.valid) {
    body = `${entry.error} · fields ${JSON.stringify(entry.fields)}`;
  } else if (entry.stream === "state") {
    body = `payment ${short(entry.subject)} · ${money(data.amount, data.currency)} · `
      + `${data.status} · refunded ${money(data.refunded_amount, data.currency)} · v${data.version}`;
  } else {
    body = `payment ${short(entry.subject)} · only the id: the rest by call back`;
  }
  const card = cardFor(entry, "published", body);
  addCard(laneName, card, entry.subject);
  const group = GROUP_OF_STREAM[entry.stream];
  if (known[group].has(cardKey(entry))) drawState(card, known[group].get(cardKey(entry)));

  // Each state event was published by the script that appended its fact, with its version.
  if (entry.stream === "state" && entry.valid && entry.version) {
    appends += 1;
    $('[data-figure="appends"]').textContent = String(appends);
    const tag = partitioned ? `{payments-${entry.partition}}` : "{payments}";
    const appended = cardFor(entry, "appended", `to ${tag}:payment-${short(entry.subject)}`);
    $(".state", appended).textContent = `v${entry.version} appended`;
    addCard("sourcing", appended, entry.subject);
  }
  if (entry.subject && entry.subject === selected) refreshPanelSoon();
}

function drawState(card, state) {
  const changed = card.dataset.state !== state.state;
  card.dataset.state = state.state;
  $(".state", card).textContent = describeState(state);
  $(".card-progress", card).textContent = explainState(state);
  return changed;
}

// ---- group progress and dead letters ----------------------------------------------------------

function figure(label, name, value, alert = false) {
  return element("div", {}, element("dt", {}, label),
    element("dd", { "data-figure": name, "data-alert": alert }, String(value)));
}

function onProgress(progress) {
  const problem = $("#feed-problem");
  problem.hidden = !progress.error;
  problem.textContent = progress.error ? `Redis cannot be read: ${progress.error}` : "";
  for (const { summary, stream, cards } of progress.groups ?? []) {
    const lag = `${summary.lag_at_least ? "≥" : ""}${summary.lag_entries}`;
    $(`.figures[data-group="${summary.group}"]`).replaceChildren(
      figure("lag", "lag-entries", lag, summary.lag_entries > 0),
      figure("lag age", "lag-seconds", `${summary.lag_seconds.toFixed(1)} s`, summary.lag_seconds >= 1),
      figure("pending", "pending", summary.pending, summary.pending > 0),
      figure("consumers", "consumers", summary.exists ? summary.consumers.length : "no group"),
      figure("dead letters", "dead-letters", summary.dead_letters, summary.dead_letters > 0),
    );
    const list = $(".cards", lane(LANE_OF_STREAM[stream]));
    let selectedChanged = false;
    known[summary.group] = new Map(cards.map((state) => [cardKey(state), state]));
    for (const state of cards) {
      const card = $(cardSelector(state), list);
      if (card && drawState(card, state) && card.dataset.subject === selected) selectedChanged = true;
    }
    if (selectedChanged) refreshPanelSoon();
  }
}

function onDeadLetter(letter) {
  const list = $(`.dead-letters[data-group="${letter.group}"]`);
  const partition = letter.partition ?? 0;
  if (!list || $(`[data-partition="${partition}"][data-id="${letter.id}"]`, list)) return;
  list.prepend(element("li", {
    "data-id": letter.id, "data-partition": partition, "data-original-id": letter.original_id,
  }, `dead letter of ${partitioned ? `partition ${partition} · ` : ""}${letter.original_id} after ${letter.deliveries} deliver${letter.deliveries === 1 ? "y" : "ies"}: ${letter.error}`));
  while (list.children.length > 5) list.lastElementChild.remove();
}

// ---- a chaos run's faults ---------------------------------------------------------------

const MAX_MARKERS = 40;
const activeFaults = new Map(); // run/kind/target -> the marker of a fault not yet healed

function onFault(fault) {
  const section = lane("faults");
  const list = $(".markers", section);
  if ($(`[data-entry-id="${fault.id}"]`, list)) return; // already drawn
  section.hidden = false;
  const data = fault.data ?? {};
  const healed = fault.type === "FaultHealed";
  const what = fault.valid ? `${data.kind} · ${data.target}` : `not an event: ${fault.error}`;
  list.prepend(element("li", {
    "data-entry-id": fault.id, "data-type": fault.type ?? "not an event", "data-kind": data.kind,
    "data-target": data.target, "data-state": healed ? "healed" : "injected",
    title: JSON.stringify(data.detail ?? fault.fields ?? {}),
  }, element("span", { class: "state" }, healed ? "healed" : fault.valid ? "injected" : "?"),
  ` ${what} `, element("span", { class: "card-meta" }, `${clock(fault.time)} · seed ${data.seed}`)));
  while (list.children.length > MAX_MARKERS) list.lastElementChild.remove();
  const key = `${data.run}/${data.kind}/${data.target}`;
  if (healed) {
    activeFaults.get(key)?.setAttribute("data-state", "over");
    activeFaults.delete(key);
  } else if (fault.valid) {
    activeFaults.set(key, list.firstElementChild);
  }
  $('[data-figure="active-faults"]', section).textContent = String(activeFaults.size);
  if (data.run) $('[data-figure="chaos-run"]', section).textContent = data.run;
}

// ---- the live feed -----------------------------------------------------------------------

function setConnection(state, text) {
  const badge = $("#connection");
  badge.dataset.connection = state;
  badge.textContent = text;
}

// The streams the console follows: with partitions, the lanes name their first and last key.
function onHello(hello) {
  partitioned = hello.streams.some((stream) => stream.partition > 0);
  for (const code of document.querySelectorAll("code[data-keys]")) {
    const keys = hello.streams.filter((s) => s.lane === code.dataset.keys).map((s) => s.key);
    if (keys.length) code.textContent = keys.length === 1 ? keys[0] : `${keys[0]} … ${keys.at(-1)}`;
  }
  if (partitioned) $("code[data-store]").textContent = "{payments-<partition>}:payment-<id>";
  // Back after so long that the console sends only the newest entries it missed: say so.
  const { window, skipped } = hello.resume ?? { skipped: [] };
  setConnection("live", skipped.length
    ? `live · back after more than ${window} entries: older ones of ${skipped.join(", ")} skipped`
    : "live");
}

function listen() {
  const source = new EventSource("/events");
  source.addEventListener("hello", (event) => onHello(JSON.parse(event.data)));
  source.addEventListener("entry", (event) => onEntry(JSON.parse(event.data)));
  source.addEventListener("dead-letter", (event) => onDeadLetter(JSON.parse(event.data)));
  source.addEventListener("fault", (event) => onFault(JSON.parse(event.data)));
  source.addEventListener("progress", (event) => onProgress(JSON.parse(event.data)));
  source.addEventListener("unavailable", (event) => {
    setConnection("reconnecting", "Redis unavailable, reconnecting…");
    $("#feed-problem").hidden = false;
    $("#feed-problem").textContent = JSON.parse(event.data).detail;
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) { // refused for good: start afresh
      setConnection("reconnecting", "reconnecting…");
      setTimeout(listen, 2000);
    } else {
      setConnection("reconnecting", "reconnecting…"); // EventSource retries by itself
    }
  });
}

// ---- driving the flow ----------------------------------------------------------------------

async function call(method, path, body, key) {
  const headers = { "content-type": "application/json" };
  if (key) headers["idempotency-key"] = key;
  const response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail ?? `${response.status} ${response.statusText}`);
  return answer;
}

function report(target, text, outcome) {
  target.textContent = text;
  target.dataset.outcome = outcome;
}

async function pay(event) {
  event.preventDefault();
  const form = event.target;
  const status = $("#drive-status");
  const button = $("button", form);
  const customer_id = form.customer_id.value.trim();
  const amount = Math.round(Number(form.amount.value) * 100);
  const currency = form.currency.value;
  button.disabled = true;
  try {
    report(status, "placing the order…", "busy");
    const order = await call("POST", "/api/orders", { customer_id, total: amount, currency });
    report(status, `order ${short(order.order_id)} placed; paying…`, "busy");
    // A key per attempt: a retried request gets the first answer instead of a second payment.
    const payment = await call("POST", "/api/payments",
      { order_id: order.order_id, customer_id, amount, currency }, crypto.randomUUID());
    status.dataset.paymentId = payment.payment_id;
    report(status, `payment ${payment.payment_id} received (v${payment.version})`, "ok");
    select(payment.payment_id);
  } catch (error) {
    report(status, `refused: ${error.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

async function refund(amount, reason) {
  const status = $("#refund-status");
  try {
    const body = reason ? { amount, reason } : { amount };
    const payment = await call("POST", `/api/payments/${selected}/refunds`, body, crypto.randomUUID());
    report(status, `refunded: ${payment.status}, v${payment.version}`, "ok");
    refreshPanelSoon();
  } catch (error) {
    report(status, `refused: ${error.message}`, "error");
  }
}

// ---- the panel for one payment -------------------------------------------------------------

// An event's data in a line: its fields but the payment id (the panel is about that payment).
function facts(data) {
  return Object.entries(data).filter(([name]) => name !== "payment_id")
    .map(([name, value]) => `${name} ${name.endsWith("_id") ? short(String(value)) : value}`)
    .join(" · ");
}

let refreshTimer = null;
let lastPayment = null;

function refreshPanelSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshPanel, 250);
}

function select(paymentId) {
  for (const card of document.querySelectorAll('.card[data-selected="true"]')) delete card.dataset.selected;
  selected = paymentId;
  for (const card of cardsOfPayment.get(paymentId) ?? []) card.dataset.selected = "true";
  $("#panel").hidden = false;
  $("#panel-id").textContent = paymentId;
  $("#refund-status").textContent = "";
  refreshPanel();
}

async function refreshPanel() {
  if (!selected) return;
  const paymentId = selected;
  let panel;
  try {
    panel = await call("GET", `/api/payments/${paymentId}`);
  } catch (error) {
    $("#panel-summary").textContent = `payments: ${error.message}`;
    return;
  }
  if (paymentId !== selected) return; // another one was chosen meanwhile
  const { payment, history, cached, order, notifications, problems } = panel;
  lastPayment = payment;
  $("#panel-summary").textContent = `${money(payment.amount, payment.currency)} · ${payment.status}`
    + ` · refunded ${money(payment.refunded_amount, payment.currency)} · version ${payment.version}`
    + ` · customer ${payment.customer_id}`;
  const traces = [...(cardsOfPayment.get(paymentId) ?? [])]
    .map((card) => $("a.trace", card)?.href).filter(Boolean);
  $("#panel-traces").replaceChildren(...[...new Set(traces)].map(
    (href, i) => element("a", { href, target: "_blank" }, `trace ${i + 1}`)));

  $("#panel-history").replaceChildren(...(history ?? []).map((event) => element("li",
    { "data-version": event.version },
    element("b", {}, `v${event.version} ${event.type}`),
    ` at ${clock(event.time)}, position `, element("code", {}, event.position),
    element("div", { class: "facts" }, facts(event.data)))));

  const copy = cached
    ? `copy: v${cached.version}, ${cached.status}, refunded ${money(cached.refunded_amount, cached.currency)}`
    : "copy: not reached orders yet";
  const orderText = order
    ? `order ${short(order.order_id)}: ${order.status}, paid ${money(order.paid_amount, order.currency)} of ${money(order.total, order.currency)}`
    : "order: not known to orders";
  $("#panel-orders").replaceChildren(
    element("p", { "data-part": "cached", "data-version": cached?.version }, copy),
    element("p", { "data-part": "order", "data-status": order?.status }, orderText));

  $("#panel-notifications").replaceChildren(...(notifications ?? []).map(
    (note) => element("li", { "data-kind": note.kind }, `${clock(note.time)} ${note.message}`)));
  $("#panel-problems").replaceChildren(...Object.entries(problems ?? {}).map(
    ([part, problem]) => element("p", {}, `${part}: ${problem.detail}`)));
}

// ---- start ---------------------------------------------------------------------------------

$("#pay-form").customer_id.value = `cust-${Math.random().toString(36).slice(2, 8)}`;
$("#pay-form").addEventListener("submit", pay);
$("#refund-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  refund(Math.round(Number(form.amount.value) * 100), form.reason.value.trim());
});
$("#refund-rest").addEventListener("click", () => {
  if (lastPayment) refund(lastPayment.amount - lastPayment.refunded_amount, "the rest");
});
$("#panel-close").addEventListener("click", () => {
  $("#panel").hidden = true;
  selected = null;
  for (const card of document.querySelectorAll('.card[data-selected="true"]')) delete card.dataset.selected;
});
listen();
