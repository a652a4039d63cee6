/* policyqa help button. One line on your page:
 *   <script src="https://HOST/widget.js" data-policy="ID" async></script>
 * Optional: data-theme="light|dark|auto", data-label="Privacy questions?", data-position="left|right",
 * data-title="...", data-greeting="...", data-accent="#rrggbb", data-language="en|es|fr|de|zh|ja".
 * Adds a floating button that opens the widget (https://HOST/widget?policy=ID) in an iframe; its
 * close button, Escape, or the button again closes it. Everything it loads comes from HOST. */
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
  function data(name) { return script.getAttribute("data-" + name) || ""; }
  var LABELS = {en: "Privacy questions?", es: "¿Preguntas de privacidad?", fr: "Questions de confidentialité ?",
                de: "Fragen zum Datenschutz?", zh: "隐私问题？", ja: "プライバシーについて質問"};
  var lang = data("language").toLowerCase().split("-")[0];
  var label = data("label") || LABELS[lang] || LABELS.en;
  var left = data("position") === "left";
  var accent = /^#([0-9a-f]{3}){1,2}$/i.test(data("accent")) ? data("accent") : "";
  var params = {policy: policy, theme: data("theme") || "auto", title: data("title"), greeting: data("greeting"),
                accent: accent, lang: lang, close: "1"};
  var query = Object.keys(params).filter(function (k) { return params[k]; }).map(function (k) {
    return k + "=" + encodeURIComponent(params[k]);
  }).join("&");

  // white or near-black text, whichever contrasts more with the accent (WCAG relative luminance)
  function textOn(hex) {
    var h = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, "$&$&") : hex;
    var lum = [1, 3, 5].map(function (i) {
      var c = parseInt(h.substr(i, 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var y = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    return 1.05 / (y + 0.05) >= (y + 0.05) / 0.0556 ? "#ffffff" : "#111111";
  }

  var host = document.createElement("div");
  host.setAttribute("data-policyqa-widget", policy);
  var root = host.attachShadow ? host.attachShadow({mode: "open"}) : host;
  var side = left ? "left" : "right";
  var style = document.createElement("style");
  style.textContent =
    ":host{all:initial}" +
    ".pq-btn{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;display:flex;align-items:center;gap:8px;" +
    "font:600 14px/1 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;" +
    "color:" + (accent ? textOn(accent) : "#fff") + ";background:" + (accent || "#2f5bea") + ";" +
    "border:0;border-radius:24px;padding:12px 16px;cursor:pointer;box-shadow:0 6px 20px rgba(20,30,60,.25)}" +
    ".pq-btn:hover{filter:brightness(.9)}.pq-btn svg{width:18px;height:18px}" +
    ".pq-panel{position:fixed;bottom:78px;" + side + ":20px;z-index:2147483000;width:380px;height:560px;" +
    "max-width:calc(100vw - 40px);max-height:calc(100vh - 110px);border-radius:14px;overflow:hidden;" +
    "box-shadow:0 12px 40px rgba(20,30,60,.3);background:#fff;display:none}" +
    ".pq-panel.open{display:block}.pq-panel iframe{width:100%;height:100%;border:0;display:block}";
  root.appendChild(style);

  var panel = document.createElement("div");
  panel.className = "pq-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", data("title") || label);
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
      frame.title = data("title") || label;
      frame.src = origin + "/widget?" + query;
      panel.appendChild(frame);
    }
    var was = panel.classList.contains("open");
    panel.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
    if (was && !open) button.focus();  // back where the visitor was
  }
  button.addEventListener("click", function () { toggle(!panel.classList.contains("open")); });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") toggle(false); });
  // the widget's close button, or Escape inside it (only our own frame is listened to)
  window.addEventListener("message", function (ev) {
    if (frame && ev.source === frame.contentWindow && ev.origin === origin && ev.data && ev.data.policyqa === "close") {
      toggle(false);
    }
  });

  root.appendChild(panel);
  root.appendChild(button);
  if (document.body) document.body.appendChild(host);
  else document.addEventListener("DOMContentLoaded", function () { document.body.appendChild(host); });
})();
