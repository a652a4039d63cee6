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

  // One line of the answer, its [n] markers as small links to the cited sentence.
  function markedLine(line, byN, into) {
    var re = /\[(\d+)\]/g, pos = 0, m;
    while ((m = re.exec(line)) !== null) {
      into.appendChild(document.createTextNode(line.slice(pos, m.index)));
      var c = byN[m[1]];
      if (c) {
        var a = el("a", "marker", m[1]);
        a.href = policyHref(c); a.target = "_blank"; a.rel = "noopener";
        into.appendChild(a);
      } else {
        into.appendChild(document.createTextNode(m[0]));
      }
      pos = re.lastIndex;
    }
    into.appendChild(document.createTextNode(line.slice(pos)));
  }

  // The answer text: paragraphs, "- " lines as a list of quotes.
  function answerText(text, byN) {
    var box = el("div", "a-text");
    text.split(/\n\s*\n/).forEach(function (para) {
      var p = null, ul = null;
      para.split("\n").forEach(function (line) {
        if (!line.trim()) return;
        if (line.indexOf("- ") === 0) {
          if (!ul) { ul = el("ul", "quotes"); box.appendChild(ul); p = null; }
          var li = el("li");
          markedLine(line.slice(2), byN, li);
          ul.appendChild(li);
        } else {
          if (!p) { p = el("p"); box.appendChild(p); ul = null; } else { p.appendChild(document.createElement("br")); }
          markedLine(line, byN, p);
        }
      });
    });
    return box;
  }

  function citationCard(c) {
    var li = el("li", c.related ? "cite related" : "cite");
    li.setAttribute("data-policy", c.policy);
    var a = el("a", "cite-link");
    a.href = policyHref(c); a.target = "_blank"; a.rel = "noopener";
    a.title = "Open the full policy at this sentence";
    var head = el("span", "cite-head");
    head.appendChild(el("span", "n", c.n));
    var bits = [c.section || "Policy", c.last_updated ? "updated " + c.last_updated : ""];
    head.appendChild(el("span", "where", bits.filter(Boolean).join(" · ")));
    a.appendChild(head);
    a.appendChild(el("span", "quote", c.quote));
    li.appendChild(a);
    return li;
  }

  function renderAnswer(bubble, data) {
    bubble.textContent = "";
    bubble.className = "msg bot " + (data.answerable ? "answerable" : "unaddressed");
    if (!data.answerable) bubble.appendChild(el("div", "label", data.status === "language_not_supported"
      ? "Question language not supported" : "Not addressed by this policy"));
    var byN = {};
    (data.citations || []).forEach(function (c) { byN[String(c.n)] = c; });
    bubble.appendChild(answerText(data.answer || "", byN));
    var relied = (data.citations || []).filter(function (c) { return !c.related; });
    var related = (data.citations || []).filter(function (c) { return c.related; });
    [["Sources", relied], ["Related clauses (they do not answer the question)", related]].forEach(function (g) {
      if (!g[1].length) return;
      bubble.appendChild(el("div", "cites-title", g[0]));
      var ol = el("ol", "cites");
      g[1].forEach(function (c) { ol.appendChild(citationCard(c)); });
      bubble.appendChild(ol);
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
    var bubble = el("div", "msg bot thinking", "Reading the policy…");
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
        bubble.textContent = res.data.error || "Something went wrong.";
      }
    }).catch(function () {
      bubble.className = "msg bot error";
      bubble.textContent = "Could not reach the server. Try again in a moment.";
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
