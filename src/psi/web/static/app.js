// psi's web app: the few things a plain form cannot do. Replies stream over fetch with a
// ReadableStream of server-sent events; the stop button ends one; notices arrive live
// through an EventSource; forms marked data-confirm ask first. Every page works without
// this file, except streaming chat.
"use strict";

(function () {
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  // Server-sent events from a fetch body: calls onEvent(kind, data) per event.
  async function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      var cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        var block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        var kind = "message", data = "";
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event: ") === 0) kind = line.slice(7);
          else if (line.indexOf("data: ") === 0) data += line.slice(6);
        });
        if (data) onEvent(kind, JSON.parse(data));
      }
    }
  }

  function details(summary, lines) {
    var box = el("details");
    box.appendChild(el("summary", {}, summary));
    var list = el("ul");
    lines.forEach(function (line) { list.appendChild(el("li", {}, line)); });
    box.appendChild(list);
    return box;
  }

  function setupChat() {
    var form = document.getElementById("chat-form");
    if (!form) return;
    var box = document.getElementById("message");
    var list = document.getElementById("messages");
    var send = document.getElementById("send");
    var stop = document.getElementById("stop");
    var status = document.getElementById("chat-status");
    var streamId = null;

    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    stop.addEventListener("click", function () {
      if (streamId) fetch("/chat/stop/" + encodeURIComponent(streamId), { method: "POST" });
      stop.disabled = true;
    });

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var text = box.value.trim();
      if (!text) { status.textContent = "Type a message first."; return; }
      var hello = list.querySelector(".hello");
      if (hello) hello.remove();
      var mine = el("li", { class: "msg user" });
      mine.appendChild(el("div", { class: "body" }, text));
      list.appendChild(mine);
      var reply = el("li", { class: "msg assistant", "aria-busy": "true" });
      var body = el("div", { class: "body markdown" });
      reply.appendChild(body);
      list.appendChild(reply);
      var data = new FormData(form);
      box.value = "";
      send.disabled = true;
      stop.hidden = false;
      stop.disabled = false;
      status.textContent = "psi is answering…";
      reply.scrollIntoView({ block: "end" });
      try {
        var response = await fetch(form.action, { method: "POST", body: data });
        if (!response.ok) {
          var problem = await response.json().catch(function () { return {}; });
          var said = (problem.error && problem.error.message) || problem.detail || ("HTTP " + response.status);
          throw new Error(said + (problem.error && problem.error.hint ? " " + problem.error.hint : ""));
        }
        await readEvents(response, function (kind, data) {
          if (kind === "start") {
            streamId = data.stream;
            form.elements.conversation.value = data.conversation;
            if (location.pathname !== "/c/" + data.conversation) {
              history.replaceState(null, "", "/c/" + data.conversation);
              var side = document.getElementById("conversation-list");
              if (side && !side.querySelector('a[href="/c/' + data.conversation + '"]')) {
                var empty = side.querySelector(".empty");
                if (empty) empty.remove();
                var item = el("li");
                item.appendChild(el("a", { href: "/c/" + data.conversation, "aria-current": "page" }, data.title));
                side.insertBefore(item, side.firstChild);
              }
            }
          } else if (kind === "delta") {
            body.textContent += data.text;
            reply.scrollIntoView({ block: "end" });
          } else if (kind === "done") {
            body.innerHTML = data.html; // rendered by the server with every tag escaped
            var meta = el("div", { class: "meta" });
            meta.appendChild(el("span", { class: "badge " + data.where }, data.badge));
            if (data.interrupted) meta.appendChild(el("span", { class: "badge stopped" }, "stopped"));
            if (data.why.length) meta.appendChild(details("Why this model", data.why));
            meta.appendChild(data.memories.length
              ? details("Memories used (" + data.memories.length + ")", data.memories)
              : el("span", { class: "muted" }, "No memories used"));
            reply.appendChild(meta);
            if (data.sources.length) {
              var sources = el("ol", { class: "sources", "aria-label": "Sources" });
              data.sources.forEach(function (source) {
                var item = el("li", { value: String(source.number) });
                item.appendChild(el("a", { href: source.href }, source.where));
                sources.appendChild(item);
              });
              reply.appendChild(sources);
            }
          } else if (kind === "error") {
            reply.classList.add("error");
            body.textContent = data.message + (data.hint ? " " + data.hint : "");
          }
        });
        status.textContent = "";
      } catch (error) {
        reply.classList.add("error");
        body.textContent = "psi could not answer: " + error.message;
        status.textContent = "";
      } finally {
        reply.removeAttribute("aria-busy");
        send.disabled = false;
        stop.hidden = true;
        streamId = null;
        box.focus();
      }
    });
  }

  function toast(text) {
    var holder = document.getElementById("toasts");
    if (!holder) return;
    var note = el("div", { class: "toast" }, text);
    var close = el("button", { type: "button", "aria-label": "Dismiss" }, "×");
    close.addEventListener("click", function () { note.remove(); });
    note.appendChild(close);
    holder.appendChild(note);
  }

  function setupNotices() {
    var url = document.body.getAttribute("data-live");
    if (!url || !window.EventSource) return;
    var count = document.getElementById("notice-count");
    var seen = 0;
    var source = new EventSource(url);
    source.addEventListener("notice", function (event) {
      var notice = JSON.parse(event.data);
      toast(notice.text);
      seen += 1;
      if (count) { count.textContent = String(seen); count.hidden = false; }
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function setupConfirm() {
    document.addEventListener("submit", function (event) {
      var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
      if (question && !window.confirm(question)) event.preventDefault();
    }, true);
  }

  function setupDrawer() {
    var drawer = document.querySelector(".drawer");
    if (drawer && window.matchMedia("(max-width: 720px)").matches) drawer.open = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupConfirm();
    setupChat();
    setupNotices();
    setupDrawer();
  });
})();
