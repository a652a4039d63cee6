// The widget page's script. It asks POST /api/widget/<policy>/ask, where the server fixes the
// scope, and builds every answer with createElement/textContent: policy text is never parsed as HTML.
(function () {
  "use strict";
  var policy = document.body.getAttribute("data-policy");
  var log = document.getElementById("log");
  var form = document.getElementById("ask");
  var input = document.getElementById("q");
  var send = document.getElementById("send");
  var busy = false;
  var t = JSON.parse(document.getElementById("strings").textContent);  // the widget's words, in its language
  var root = document.documentElement;
  if (root.getAttribute("data-accent")) {  // the site owner's colour (checked by the server: #rgb or #rrggbb)
    root.style.setProperty("--accent", root.getAttribute("data-accent"));
    root.style.setProperty("--accent-text", root.getAttribute("data-accent-text"));
    root.style.setProperty("--user", root.getAttribute("data-accent"));
    root.style.setProperty("--user-text", root.getAttribute("data-accent-text"));
  }

  // Opened by widget.js: its page closes the panel (the close button, or Escape inside it).
  function close() { window.parent.postMessage({policyqa: "close"}, "*"); }
  var closeButton = document.getElementById("close");
  if (closeButton) {
    closeButton.addEventListener("click", close);
    document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") close(); });
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function policyHref(c) {
    return "/policy/" + encodeURIComponent(c.policy) + "?start=" + Number(c.start) +
      "&end=" + Number(c.end) + "#hl";
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  // A sentence in the answer's own words, its citation markers as links before its final stop
  // (as qa.types.with_marks puts them).
  function marked(text, numbers, byN, into) {
    var body = String(text || "").replace(/\s+$/, ""), stop = "";
    if (/[.!?。！？]$/.test(body)) { stop = body.slice(-1); body = body.slice(0, -1).replace(/\s+$/, ""); }
    into.appendChild(document.createTextNode(body));
    numbers.forEach(function (n, i) {
      var c = byN[String(n)];
      if (!c) return;
      if (i === 0) into.appendChild(document.createTextNode(" "));
      var a = el("a", "marker", n);
      a.href = policyHref(c); a.target = "_blank"; a.rel = "noopener";
      into.appendChild(a);
    });
    into.appendChild(document.createTextNode(stop));
    return into;
  }

  function numbersOf(block) {
    var out = [];
    (block.quotes || []).forEach(function (q) { out.push(q.n); (q.items || []).forEach(function (i) { out.push(i); }); });
    return out;
  }

  function citationCard(c, items, more) {
    var li = el("li", c.related ? "cite related" : "cite");
    li.setAttribute("data-policy", c.policy);
    var a = el("a", "cite-link");
    a.href = policyHref(c); a.target = "_blank"; a.rel = "noopener";
    a.title = t.open;
    var head = el("span", "cite-head");
    head.appendChild(el("span", "n", c.n));
    var bits = [c.section || t.section, c.page ? t.page.replace("{n}", c.page) : "",
                c.last_updated ? t.cite_updated.replace("{date}", c.last_updated) : ""];
    head.appendChild(el("span", "where", bits.filter(Boolean).join(" · ")));
    a.appendChild(head);
    a.appendChild(el("span", "quote", c.quote));
    if (c.note) a.appendChild(el("span", "note-hidden", c.note));  // e.g. an address the source hid
    li.appendChild(a);
    if ((items && items.length) || more) {  // a list's items under its lead-in, compactly
      var ol = el("ol", "items");
      items.forEach(function (item) {
        var sub = el("li", "cite item");
        sub.setAttribute("data-policy", item.policy);
        var link = el("a", "item-link");
        link.href = policyHref(item); link.target = "_blank"; link.rel = "noopener";
        link.appendChild(el("span", "n", item.n));
        link.appendChild(el("span", "quote", item.quote));
        sub.appendChild(link);
        ol.appendChild(sub);
      });
      if (more) ol.appendChild(el("li", "more", t.more.replace("{n}", more)));
      li.appendChild(ol);
    }
    return li;
  }

  // One block of the answer (see qa.types.Block): a verdict line, a note, a group of quotes, or
  // a sentence of the LLM writer. Quotes come from the citations, by number, each shown once.
  function renderBlock(block, byN) {
    if (block.kind === "verdict") {
      return marked(block.text, numbersOf(block), byN, el("p", "verdict reply-" + (block.reply || "")));
    }
    if (block.kind === "written") return marked(block.text, numbersOf(block), byN, el("span", "written"));
    if (block.kind === "note") return el("p", "note", block.text);
    var group = el("div", block.kind === "related" ? "group related" : "group");
    if (block.text) group.appendChild(el("div", "group-head", block.text));
    var ol = el("ol", "cites");
    (block.quotes || []).forEach(function (q) {
      var c = byN[String(q.n)];
      if (!c) return;
      var items = (q.items || []).map(function (n) { return byN[String(n)]; }).filter(Boolean);
      ol.appendChild(citationCard(c, items, q.more || 0));
    });
    group.appendChild(ol);
    return group;
  }

  function renderAnswer(bubble, data) {
    bubble.textContent = "";
    bubble.className = "msg bot " + (data.answerable ? "answerable" : "unaddressed");
    if (!data.answerable) bubble.appendChild(el("div", "label", data.status === "language_not_supported"
      ? t.unread : t.unaddressed));
    var byN = {};
    (data.citations || []).forEach(function (c) { byN[String(c.n)] = c; });
    var written = null;  // an LLM writer's sentences run on in one paragraph
    (data.blocks || []).forEach(function (block) {
      if (block.kind === "written") {
        if (!written) { written = el("p", "written-text"); bubble.appendChild(written); }
        else written.appendChild(document.createTextNode(" "));
        written.appendChild(renderBlock(block, byN));
        return;
      }
      written = null;
      bubble.appendChild(renderBlock(block, byN));
    });
  }

  function ask(question) {
    question = (question || "").trim();
    if (!question || busy) return;
    busy = true; send.disabled = true;
    var hello = log.querySelector(".w-hello");
    if (hello) hello.remove();
    var mine = el("div", "msg user", question);
    log.appendChild(mine);
    var bubble = el("div", "msg bot thinking", t.thinking);
    log.appendChild(bubble);
    scrollDown();
    fetch("/api/widget/" + encodeURIComponent(policy) + "/ask", {
      method: "POST",
      headers: {"content-type": "application/json"},
      body: JSON.stringify({question: question})
    }).then(function (r) {
      return r.json().then(function (data) { return {ok: r.ok, data: data}; });
    }).then(function (res) {
      if (res.ok) {
        renderAnswer(bubble, res.data);
      } else {
        bubble.className = "msg bot error";
        bubble.textContent = res.data.error || t.failed;
      }
    }).catch(function () {
      bubble.className = "msg bot error";
      bubble.textContent = t.offline;
    }).then(function () {
      busy = false; send.disabled = false; input.focus();
      log.scrollTop = Math.max(0, mine.offsetTop - log.offsetTop - 8);  // the question, then its answer
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = input.value;
    input.value = "";
    ask(q);
  });
  Array.prototype.forEach.call(document.querySelectorAll(".chip"), function (chip) {
    chip.addEventListener("click", function () { ask(chip.textContent); });
  });
})();
