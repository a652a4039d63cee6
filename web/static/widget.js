/* policyqa help button. One line on your page:
 *   <script src="https://HOST/widget.js" data-policy="ID" async></script>
 * Optional: data-theme="light|dark|auto", data-label="Privacy questions?", data-position="left|right".
 * Adds a floating button that opens the widget (https://HOST/widget?policy=ID) in an iframe.
 * Everything it loads comes from HOST. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) {
    var all = document.querySelectorAll("script[data-policy]");
    script = all[all.length - 1];
  }
  if (!script || script.getAttribute("data-policyqa-ready")) return;
  script.setAttribute("data-policyqa-ready", "1");
  var policy = script.getAttribute("data-policy");
  if (!policy) { console.error("policyqa widget.js: add data-policy=\"<policy id>\" to the script tag"); return; }
  var origin = new URL(script.src, location.href).origin;
  var theme = script.getAttribute("data-theme") || "auto";
  var label = script.getAttribute("data-label") || "Privacy questions?";
  var left = script.getAttribute("data-position") === "left";

  var host = document.createElement("div");
  host.setAttribute("data-policyqa-widget", policy);
  var root = host.attachShadow ? host.attachShadow({mode: "open"}) : host;
  var side = left ? "left" : "right";
  var style = document.createElement("style");
  style.textContent =
    ":host{all:initial}" +
    ".pq-btn{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;display:flex;align-items:center;gap:8px;" +
    "font:600 14px/1 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#fff;background:#2f5bea;" +
    "border:0;border-radius:24px;padding:12px 16px;cursor:pointer;box-shadow:0 6px 20px rgba(20,30,60,.25)}" +
    ".pq-btn:hover{background:#2549c5}.pq-btn svg{width:18px;height:18px}" +
    ".pq-panel{position:fixed;bottom:78px;" + side + ":20px;z-index:2147483000;width:380px;height:560px;" +
    "max-width:calc(100vw - 40px);max-height:calc(100vh - 110px);border-radius:14px;overflow:hidden;" +
    "box-shadow:0 12px 40px rgba(20,30,60,.3);background:#fff;display:none}" +
    ".pq-panel.open{display:block}.pq-panel iframe{width:100%;height:100%;border:0;display:block}";
  root.appendChild(style);

  var panel = document.createElement("div");
  panel.className = "pq-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", label);
  var button = document.createElement("button");
  button.className = "pq-btn";
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  button.innerHTML = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ' +
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5' +
    'a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/></svg>';
  var text = document.createElement("span");
  text.textContent = label;  // the page's own label, as text
  button.appendChild(text);

  var frame = null;
  function toggle(open) {
    if (open && !frame) {
      frame = document.createElement("iframe");
      frame.title = label;
      frame.src = origin + "/widget?policy=" + encodeURIComponent(policy) + "&theme=" + encodeURIComponent(theme);
      panel.appendChild(frame);
    }
    panel.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
  }
  button.addEventListener("click", function () { toggle(!panel.classList.contains("open")); });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") toggle(false); });

  root.appendChild(panel);
  root.appendChild(button);
  if (document.body) document.body.appendChild(host);
  else document.addEventListener("DOMContentLoaded", function () { document.body.appendChild(host); });
})();
