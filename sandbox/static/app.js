// Diancai sandbox web chat. Plain JS, no build step: talks to the control API on this origin
// (/sandbox/...) and follows every change through server-sent events (/sandbox/events).
"use strict";

const panesEl = document.querySelector("[data-testid=panes]");
const emptyEl = document.querySelector("[data-testid=empty-state]");
const template = document.getElementById("pane-template");
const panes = new Map(); // user id -> pane state

async function api(method, path, body) {
  const response = await fetch(`/sandbox${path}`, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.description || `HTTP ${response.status}`);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key === "title" || key === "type") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// ---- time ---------------------------------------------------------------------------------
// Message times are shown in the bot's zone (the sandbox's `timezone`, the bot's TIMEZONE), the
// zone of the times the bot writes into its texts, whatever zone this browser is in.

const clocks = { short: null, full: null };

function useTimeZone(timeZone) {
  clocks.short = new Intl.DateTimeFormat("zh-CN", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  clocks.full = new Intl.DateTimeFormat("zh-CN", { timeZone, dateStyle: "medium", timeStyle: "medium" });
  const zoneName = new Intl.DateTimeFormat("zh-CN", { timeZone, timeZoneName: "long" })
    .formatToParts(new Date()).find((part) => part.type === "timeZoneName").value;
  const label = document.querySelector("[data-testid=time-zone]");
  label.textContent = `时间：${zoneName} (${timeZone})`;
  label.title = `消息时间按机器人的时区 ${timeZone} 显示 · Times are in the bot's time zone, ${timeZone}`;
}

function timeElement(unixSeconds) {
  const date = unixSeconds ? new Date(unixSeconds * 1000) : new Date();
  return el("time", {
    "data-testid": "message-time",
    dateTime: date.toISOString(),
    title: clocks.full.format(date),
    text: clocks.short.format(date),
  });
}

// ---- panes --------------------------------------------------------------------------------

function addPane(user) {
  if (panes.has(user.id)) return updateUser(user);
  const node = template.content.firstElementChild.cloneNode(true);
  node.dataset.userId = user.id;
  node.setAttribute("data-testid", `chat-pane-${user.id}`);
  node.classList.add("chat-pane");
  const pane = {
    user,
    node,
    list: node.querySelector("[data-testid=message-list]"),
    input: node.querySelector("[data-testid=message-input]"),
    keyboard: node.querySelector("[data-testid=reply-keyboard]"),
    typing: node.querySelector("[data-testid=typing]"),
    toast: node.querySelector("[data-testid=toast]"),
    commandsMenu: node.querySelector("[data-testid=commands-menu]"),
    locationPop: node.querySelector("[data-testid=location-pop]"),
    messages: new Map(),
    atBottom: true, // follow the newest message until the user scrolls up to read
    sizes: null, // a ResizeObserver on the list and on every message in it
    typingTimer: null,
    toastTimer: null,
  };
  panes.set(user.id, pane);
  wirePane(pane);
  followNewest(pane);
  updateUser(user);
  panesEl.append(node);
  emptyEl.hidden = panes.size > 0;
  loadMessages(pane);
  return pane;
}

function updateUser(user) {
  const pane = panes.get(user.id);
  if (!pane) return;
  pane.user = user;
  pane.node.querySelector(".as-name").textContent = user.first_name + (user.last_name ? ` ${user.last_name}` : "");
  pane.node.querySelector(".as-id").textContent = `· id ${user.id} · ${user.language_code || "—"}`;
  pane.node.classList.toggle("blocked", !!user.blocked);
  pane.node.querySelector(".blocked-banner").hidden = !user.blocked;
  const blockButton = pane.node.querySelector("[data-testid=block-toggle]");
  blockButton.title = user.blocked ? "解除拉黑 Unblock the bot" : "拉黑机器人 Block the bot";
}

async function loadMessages(pane) {
  const data = await api("GET", `/users/${pane.user.id}/messages`);
  pane.list.replaceChildren();
  pane.messages.clear();
  pane.atBottom = true;
  for (const message of data.messages) upsertMessage(pane, message);
  renderKeyboard(pane, data.reply_keyboard);
}

// Like Telegram, a chat shown at its newest message stays there whatever changes size: a new
// message, an edit that adds buttons, a photo that finishes loading, or the reply keyboard
// appearing and leaving the list less room. The sizes are known only after layout, so the
// scroll happens in a ResizeObserver (which runs after layout, before paint), not right after
// the DOM changes. A user who scrolled up to read is left where they are.
function followNewest(pane) {
  const { list } = pane;
  pane.sizes = new ResizeObserver(() => {
    if (pane.atBottom) list.scrollTop = list.scrollHeight;
  });
  pane.sizes.observe(list);
  // Only the user's own scrolling (wheel, touch, the scroll bar) leaves the newest message.
  // Scroll events alone cannot tell: they arrive a frame late, when a message may have been
  // added or the keyboard may have taken room meanwhile, and look like "not at the bottom".
  let userScrolledUntil = 0;
  const userScrolls = () => (userScrolledUntil = performance.now() + 500);
  list.addEventListener("wheel", userScrolls, { passive: true });
  list.addEventListener("touchmove", userScrolls, { passive: true });
  list.addEventListener("pointerdown", (event) => event.target === list && userScrolls());
  list.addEventListener("scroll", () => {
    const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    if (atEnd) pane.atBottom = true;
    else if (performance.now() < userScrolledUntil) pane.atBottom = false;
  });
}

function wirePane(pane) {
  const { node, input } = pane;
  const userId = () => pane.user.id;

  node.querySelector(".composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    await send(pane, { text });
  });

  const photoInput = node.querySelector("[data-testid=photo-input]");
  node.querySelector("[data-testid=photo-button]").addEventListener("click", () => photoInput.click());
  photoInput.addEventListener("change", () => {
    const file = photoInput.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = async () => {
      const caption = input.value.trim();
      input.value = "";
      await send(pane, caption ? { photo: reader.result, caption } : { photo: reader.result });
      photoInput.value = "";
    };
    reader.readAsDataURL(file);
  });

  node.querySelector("[data-testid=location-button]").addEventListener("click", () => {
    pane.commandsMenu.hidden = true;
    pane.locationPop.hidden = !pane.locationPop.hidden;
  });
  node.querySelector("[data-testid=location-send]").addEventListener("click", async () => {
    const latitude = parseFloat(node.querySelector("[data-testid=location-lat]").value);
    const longitude = parseFloat(node.querySelector("[data-testid=location-lng]").value);
    if (Number.isNaN(latitude) || Number.isNaN(longitude)) return showToast(pane, "请输入有效坐标 Invalid coordinates");
    pane.locationPop.hidden = true;
    await send(pane, { location: { latitude, longitude } });
  });

  node.querySelector("[data-testid=commands-button]").addEventListener("click", async () => {
    pane.locationPop.hidden = true;
    if (!pane.commandsMenu.hidden) return (pane.commandsMenu.hidden = true);
    const { commands } = await api("GET", `/users/${userId()}/commands`);
    pane.commandsMenu.replaceChildren(
      ...(commands.length
        ? commands.map((command) => {
            const item = el("button", { class: "command-item", type: "button", "data-testid": "command-item" },
              el("b", { text: `/${command.command}` }), el("span", { text: command.description }));
            item.addEventListener("click", async () => {
              pane.commandsMenu.hidden = true;
              await send(pane, { text: `/${command.command}` });
            });
            return item;
          })
        : [el("div", { class: "muted", text: "机器人还没有设置命令 No commands set (setMyCommands)" })]),
    );
    pane.commandsMenu.hidden = false;
  });

  const toggleBlock = async () => {
    const path = pane.user.blocked ? "unblock" : "block";
    updateUser(await api("POST", `/users/${userId()}/${path}`));
  };
  node.querySelector("[data-testid=block-toggle]").addEventListener("click", toggleBlock);
  node.querySelector("[data-testid=unblock-button]").addEventListener("click", toggleBlock);
  node.querySelector(".messages").addEventListener("click", (event) => {
    if (event.target.classList.contains("spoiler")) event.target.classList.toggle("shown");
  });
}

async function send(pane, body) {
  try {
    await api("POST", `/users/${pane.user.id}/send`, body);
  } catch (error) {
    showToast(pane, `⚠️ ${error.message}`);
  }
}

async function press(pane, messageId, text, button) {
  if (button) button.disabled = true;
  try {
    await api("POST", `/users/${pane.user.id}/press`, messageId == null ? { text } : { message_id: messageId, text });
  } catch (error) {
    showToast(pane, `⚠️ ${error.message}`);
  } finally {
    if (button) setTimeout(() => (button.disabled = false), 600);
  }
}

function showToast(pane, text, alert = false) {
  pane.toast.textContent = text;
  pane.toast.classList.toggle("alert", alert);
  pane.toast.hidden = false;
  clearTimeout(pane.toastTimer);
  pane.toastTimer = setTimeout(() => (pane.toast.hidden = true), alert ? 5000 : 2600);
}

function showTyping(pane, action) {
  const labels = {
    typing: "正在输入… typing",
    upload_photo: "正在发送照片… sending a photo",
    upload_document: "正在发送文件… sending a file",
    find_location: "正在查找位置… finding a location",
  };
  pane.typing.textContent = labels[action] || `${action}…`;
  pane.typing.classList.add("typing");
  clearTimeout(pane.typingTimer);
  pane.typingTimer = setTimeout(resetTyping, 5000, pane);
}

function resetTyping(pane) {
  pane.typing.textContent = "机器人 bot";
  pane.typing.classList.remove("typing");
}

// ---- messages -----------------------------------------------------------------------------

function upsertMessage(pane, message) {
  const node = renderMessage(pane, message);
  const existing = pane.messages.get(message.message_id);
  if (existing) {
    pane.sizes.unobserve(existing);
    existing.replaceWith(node);
  } else {
    // keep the order by message id (events can race the initial load)
    const after = [...pane.messages.keys()].filter((id) => id > message.message_id).sort((a, b) => a - b)[0];
    if (after !== undefined) pane.messages.get(after).before(node);
    else pane.list.append(node);
  }
  pane.messages.set(message.message_id, node);
  pane.sizes.observe(node); // reported once now, then at every change of its size
  if (message.from === "bot") resetTyping(pane);
}

function removeMessage(pane, messageId) {
  const node = pane.messages.get(messageId);
  if (node) {
    pane.sizes.unobserve(node);
    node.remove();
  }
  pane.messages.delete(messageId);
}

function renderMessage(pane, message) {
  const wrapper = el("div", {
    class: `msg ${message.service ? "service" : message.from}`,
    "data-testid": "message",
    "data-message-id": message.message_id,
    "data-from": message.from,
  });
  if (message.edited) wrapper.dataset.edited = "true";
  const bubble = el("div", { class: "bubble" });
  wrapper.append(bubble);

  if (message.service) {
    bubble.textContent = "群组已创建 Group created";
    return wrapper;
  }
  if (message.sticker) {
    bubble.classList.add("sticker");
    bubble.textContent = message.sticker.emoji || "🖼️";
  }
  if (message.photo) {
    bubble.append(el("img", { class: "photo", src: message.photo.url, alt: "photo", "data-testid": "message-photo" }));
  }
  if (message.location) {
    const { latitude, longitude } = message.location;
    bubble.append(el("div", { class: "map", "data-testid": "message-location", text: "📍" }));
    bubble.append(el("div", { class: "att-sub", text: `${latitude.toFixed(5)}, ${longitude.toFixed(5)}` }));
  }
  if (message.document) {
    bubble.append(attachment("📄", message.document.file_name || "文件 file", sizeText(message.document.file_size), message.document.url));
  }
  if (message.voice) {
    const voice = attachment("🎤", "语音 Voice", `${message.voice.duration || 0}″`, null);
    bubble.append(voice, el("audio", { controls: true, src: message.voice.url, preload: "none" }));
  }
  if (message.contact) {
    bubble.append(attachment("👤", message.contact.first_name || "联系人", message.contact.phone_number, null));
  }
  if (message.html !== undefined) {
    const text = el("div", { class: "text", "data-testid": "message-text" });
    text.innerHTML = message.html; // escaped and rendered from entities by the sandbox
    bubble.append(text);
  }
  bubble.append(el("span", { class: "meta" }, message.edited ? "已编辑 edited · " : null, timeElement(message.date)));

  const markup = message.reply_markup;
  if (markup && markup.inline_keyboard) {
    const keyboard = el("div", { class: "inline-keyboard", "data-testid": "inline-keyboard" });
    for (const row of markup.inline_keyboard) {
      const rowEl = el("div", { class: "inline-row" });
      for (const button of row) {
        const buttonEl = el("button", {
          type: "button",
          text: button.url ? `${button.text} ↗` : button.text,
          "data-testid": "inline-button",
          "data-text": button.text,
        });
        if (button.url) buttonEl.addEventListener("click", () => window.open(button.url, "_blank", "noopener"));
        else buttonEl.addEventListener("click", () => press(pane, message.message_id, button.text, buttonEl));
        rowEl.append(buttonEl);
      }
      keyboard.append(rowEl);
    }
    wrapper.append(keyboard);
  }
  return wrapper;
}

function attachment(icon, title, subtitle, url) {
  const titleEl = url ? el("a", { class: "att-title", href: url, target: "_blank", text: title }) : el("div", { class: "att-title", text: title });
  return el("div", { class: "attachment" }, el("div", { class: "att-icon", text: icon }),
    el("div", {}, titleEl, el("div", { class: "att-sub", text: subtitle || "" })));
}

function sizeText(bytes) {
  if (!bytes) return "";
  return bytes > 1024 * 1024 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

function renderKeyboard(pane, keyboard) {
  pane.keyboard.replaceChildren();
  pane.keyboard.hidden = !keyboard;
  if (!keyboard) return;
  for (const row of keyboard.keyboard) {
    const rowEl = el("div", { class: "reply-row" });
    for (const button of row) {
      const label = typeof button === "string" ? button : button.text;
      const buttonEl = el("button", { type: "button", text: label, "data-testid": "reply-button", "data-text": label });
      if (button.request_location) buttonEl.title = "发送你的位置 Sends your location";
      if (button.request_contact) buttonEl.title = "发送你的电话 Sends your phone number";
      buttonEl.addEventListener("click", () => press(pane, null, label, buttonEl));
      rowEl.append(buttonEl);
    }
    pane.keyboard.append(rowEl);
  }
}

// ---- live updates -------------------------------------------------------------------------

function handleEvent(event) {
  const pane = event.chat_id !== undefined ? panes.get(event.chat_id) : null;
  switch (event.type) {
    case "user":
      if (panes.has(event.user.id)) updateUser(event.user);
      else addPane(event.user);
      break;
    case "message":
    case "edit":
      if (!pane) break;
      if (event.type === "message") pane.atBottom = true; // a new message is always shown
      upsertMessage(pane, event.message);
      break;
    case "delete":
      if (pane) removeMessage(pane, event.message_id);
      break;
    case "keyboard":
      if (pane) renderKeyboard(pane, event.reply_keyboard);
      break;
    case "chat_action":
      if (pane) showTyping(pane, event.action);
      break;
    case "callback_answer":
      if (pane && event.text) showToast(pane, event.text, !!event.show_alert);
      break;
    case "config":
      document.querySelector("[data-testid=faults-toggle]").checked = event.faults;
      break;
    case "reset":
      reloadAll();
      break;
    default:
      break;
  }
}

async function reloadAll() {
  const bot = await api("GET", "/bot"); // its time zone first: messages show times
  useTimeZone(bot.timezone);
  document.querySelector("[data-testid=faults-toggle]").checked = bot.faults;
  for (const pane of panes.values()) {
    pane.sizes.disconnect();
    pane.node.remove();
  }
  panes.clear();
  const { users } = await api("GET", "/users");
  users.forEach(addPane);
  emptyEl.hidden = panes.size > 0;
}

function connectEvents() {
  const source = new EventSource("/sandbox/events");
  let dropped = false;
  source.onmessage = (message) => handleEvent(JSON.parse(message.data));
  source.onerror = () => (dropped = true);
  source.onopen = () => {
    if (dropped) reloadAll(); // resync after the sandbox restarted or the network blinked
    dropped = false;
  };
}

async function refreshStatus() {
  const status = document.querySelector("[data-testid=bot-status]");
  try {
    const [bot, stats] = await Promise.all([api("GET", "/bot"), api("GET", "/stats")]);
    const online = bot.mode !== "offline";
    status.classList.toggle("online", online);
    status.querySelector(".status-text").textContent = online
      ? `@${bot.username} 在线 online · ${bot.mode}`
      : "机器人未连接 Bot offline — run the bot against this sandbox";
    const rate = stats.delivered_per_second;
    document.querySelector("[data-testid=stats]").textContent =
      `消息 ${stats.delivered_messages} · ${rate.last_1s}/s (峰值 ${rate.peak_1s}/s) · 429×${stats.too_many_requests}`;
  } catch {
    status.classList.remove("online");
    status.querySelector(".status-text").textContent = "沙盒未响应 Sandbox not reachable";
  }
}

document.querySelector("[data-testid=add-user-form]").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const firstName = form.first_name.value.trim();
  if (!firstName) return;
  const user = await api("POST", "/users", { first_name: firstName, language_code: form.language_code.value });
  form.first_name.value = "";
  addPane(user);
});

document.querySelector("[data-testid=faults-toggle]").addEventListener("change", async (event) => {
  await api("POST", "/faults", { enabled: event.target.checked });
});

reloadAll().then(connectEvents);
refreshStatus();
setInterval(refreshStatus, 2000);
