/* The editors' desk without reloads: keyboard shortcuts, drag-and-drop, collapsing topics.
 *
 * Every action is a plain form the server understands without this script; htmx (hx-post)
 * sends it in the background and swaps in the parts of the page that changed. Actions made
 * from the keyboard or by dragging go through one queue, so quick keystrokes apply in order,
 * each to the pick that was current when it was typed.
 */
(function () {
  "use strict";

  const desk = document.getElementById("desk");
  if (!desk || !window.htmx) return;
  document.documentElement.classList.add("js");
  const editable = desk.dataset.editable === "yes";
  const collapsed = new Set();
  let currentId = null;
  let queue = Promise.resolve();

  // --- picks and focus -------------------------------------------------------------------

  // Picks the editor can see: not in a collapsed topic, not in a closed "Rejected" list.
  function visiblePicks() {
    return Array.from(desk.querySelectorAll("li.pick")).filter(
      (el) => el.offsetParent !== null && !el.closest("details:not([open]), [hidden]"));
  }

  function pickEl(id) {
    return id ? document.getElementById("pick-" + id) : null;
  }

  function focusPick(id) {
    const el = pickEl(id);
    if (!el) return;
    desk.querySelectorAll("li.pick.current").forEach((other) => other.classList.remove("current"));
    currentId = id;
    el.classList.add("current");
    el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "nearest" });
  }

  function step(delta) {
    const picks = visiblePicks();
    if (!picks.length) return;
    const at = picks.findIndex((el) => el.dataset.pick === currentId);
    const next = at < 0 ? (delta > 0 ? 0 : picks.length - 1) : Math.min(picks.length - 1, Math.max(0, at + delta));
    focusPick(picks[next].dataset.pick);
  }

  // Where "approve" and "reject" go next: the next pick still to decide, else simply the next one.
  function neighbourAfter(id) {
    const picks = visiblePicks();
    const at = picks.findIndex((el) => el.dataset.pick === id);
    if (at < 0) return id;
    const after = picks.slice(at + 1);
    const undecided = after.find((el) => el.classList.contains("suggested"));
    return (undecided || after[0] || picks[at]).dataset.pick;
  }

  desk.addEventListener("focusin", (event) => {
    const pick = event.target.closest && event.target.closest("li.pick");
    if (pick) {
      currentId = pick.dataset.pick;
      desk.querySelectorAll("li.pick.current").forEach((other) => other !== pick && other.classList.remove("current"));
      pick.classList.add("current");
    }
  });

  // --- sending actions in order ----------------------------------------------------------

  function csrfToken() {
    const input = desk.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function values(form) {
    const out = {};
    new FormData(form).forEach((value, key) => {
      if (key in out) out[key] = [].concat(out[key], value);
      else out[key] = value;
    });
    return out;
  }

  function send(path, vals, then) {
    queue = queue
      .then(() => htmx.ajax("POST", path, { source: desk, swap: "none", values: vals }))
      .then(() => { if (then) then(); })
      .catch(() => say("error", "The desk could not reach the server: check the connection, then reload the page."));
    return queue;
  }

  function submitKey(key, advance) {
    const id = currentId;
    const pick = pickEl(id);
    if (!pick) return;
    const form = pick.querySelector(`:scope > .controls form[data-key="${key}"]`);
    if (!form) return;
    if (advance) focusPick(neighbourAfter(id));
    send(form.getAttribute("action"), values(form), () => focusPick(currentId));
  }

  function say(level, text) {
    const box = document.getElementById("desk-message");
    if (!box) return;
    box.replaceChildren();
    const div = document.createElement("div");
    div.className = "flash " + level;
    div.setAttribute("role", level === "error" ? "alert" : "status");
    div.textContent = text;
    box.appendChild(div);
  }

  // The page's own flash messages belong to the last reload: the first action here replaces them.
  document.body.addEventListener("htmx:beforeRequest", () => {
    document.querySelectorAll("main > .flashes").forEach((el) => el.remove());
  });

  document.body.addEventListener("htmx:responseError", (event) => {
    const status = event.detail.xhr ? event.detail.xhr.status : "?";
    say("error", `The desk could not save that (HTTP ${status}). Reload the page and try again.`);
  });

  // After any swap, keep the keyboard where it was: the same pick, or the one chosen next.
  document.body.addEventListener("htmx:afterSettle", () => {
    const active = document.activeElement;
    if (currentId && (!active || active === document.body || !document.body.contains(active))) {
      focusPick(currentId);
    }
  });

  // --- topics collapse -------------------------------------------------------------------

  function setCollapsed(section, hide) {
    const button = section.querySelector("button.collapse");
    const body = section.querySelector(".topic-body");
    if (!button || !body) return;
    button.hidden = false;
    button.setAttribute("aria-expanded", hide ? "false" : "true");
    body.hidden = hide;
    if (hide) collapsed.add(section.id);
    else collapsed.delete(section.id);
  }

  desk.addEventListener("click", (event) => {
    const button = event.target.closest("button.collapse");
    if (button) setCollapsed(button.closest("section.topic"), button.getAttribute("aria-expanded") === "true");
    if (event.target.closest("button.shortcuts-button")) openShortcuts();
  });

  // --- drag and drop -----------------------------------------------------------------------

  function sortable(list) {
    if (!window.Sortable || !list.dataset.order || list.dataset.sortable) return;
    list.dataset.sortable = "yes";
    Sortable.create(list, {
      handle: ".drag", draggable: "li.pick", animation: 120, forceFallback: true,
      onEnd(event) {
        if (event.oldIndex === event.newIndex) return;
        const order = Array.from(list.querySelectorAll(":scope > li.pick")).map((el) => el.dataset.pick);
        currentId = event.item.dataset.pick;
        send(list.dataset.order, { csrf_token: csrfToken(), order: order }, () => focusPick(currentId));
      },
    });
  }

  htmx.onLoad((root) => {
    const scope = root.querySelectorAll ? root : document;
    const sections = [];
    if (root.matches && root.matches("section.topic")) sections.push(root);
    scope.querySelectorAll("section.topic").forEach((el) => sections.push(el));
    sections.forEach((section) => setCollapsed(section, collapsed.has(section.id)));
    if (root.matches && root.matches("ol.picks")) sortable(root);
    scope.querySelectorAll("ol.picks[data-order]").forEach(sortable);
    if (root.matches && root.matches("section.topic")) root.querySelectorAll("ol.picks[data-order]").forEach(sortable);
  });

  // --- the keyboard ----------------------------------------------------------------------

  const shortcuts = document.getElementById("shortcuts");
  const shortcutsButton = desk.querySelector("button.shortcuts-button");
  if (shortcutsButton) shortcutsButton.hidden = false;

  function openShortcuts() {
    if (shortcuts && !shortcuts.open) shortcuts.showModal();
  }

  function editCurrent() {
    const pick = pickEl(currentId);
    const details = pick && pick.querySelector("details.edit");
    if (!details) return;
    details.open = true;
    const field = details.querySelector("textarea, input[type=text]");
    if (field) field.focus();
  }

  function typing(target) {
    return target.closest && target.closest("input, textarea, select, [contenteditable]");
  }

  document.addEventListener("keydown", (event) => {
    if (!editable || event.ctrlKey || event.metaKey || typing(event.target)) return;
    if (shortcuts && shortcuts.open) return; // Esc closes it; nothing else acts behind it
    const key = event.key;
    const pick = pickEl(currentId);
    let handled = true;
    if (key === "?") openShortcuts();
    else if (event.altKey && key === "ArrowDown") submitKey("J", false);
    else if (event.altKey && key === "ArrowUp") submitKey("K", false);
    else if (event.altKey) handled = false;
    else if (key === "j") step(1);
    else if (key === "k") step(-1);
    else if (key === "a") submitKey("a", true);
    else if (key === "x") submitKey("x", true);
    else if (key === "u") submitKey("u", false);
    else if (key === "J" || key === "K") submitKey(key, false);
    else if (key === "e") editCurrent();
    else if (key === "c" && pick) setCollapsed(pick.closest("section.topic"), true);
    else handled = false;
    if (handled) event.preventDefault();
  });
})();
