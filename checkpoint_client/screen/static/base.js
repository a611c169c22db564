// Shared helpers for the officer's screen. No framework: the page is one form and a few lists.
// Every text from a pass or the store goes through textContent (never innerHTML): names may contain markup.
"use strict";

const Screen = (() => {
  const words = JSON.parse(document.getElementById("words").textContent);
  const token = document.querySelector("meta[name=screen-token]").content;
  const lang = document.documentElement.lang;

  function t(key, values) {
    let text = words[key] ?? key;
    for (const [name, value] of Object.entries(values || {})) text = text.replaceAll(`{${name}}`, String(value));
    return text;
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function api(method, path, body) {
    const options = { method, headers: { "X-Screen-Token": token, "X-Screen-Lang": lang } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    try {
      const response = await fetch(path, options);
      const data = await response.json().catch(() => ({}));
      return { ok: response.ok, status: response.status, data };
    } catch (err) {
      return { ok: false, status: 0, data: { message: t("offline_screen") } };
    }
  }

  function duration(seconds) {
    const minutes = Math.max(0, Math.floor(seconds / 60));
    if (minutes < 90) return t("minutes", { n: minutes });
    if (minutes < 48 * 60) return t("hours", { n: Math.floor(minutes / 60) });
    return t("days", { n: Math.floor(minutes / 1440) });
  }

  function typing(target) {
    return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
  }

  // deskVersion: the newest state of the desk (the vehicles in front of the officer) the page has shown.
  return { t, el, api, token, lang, duration, typing, policy: {}, overview: null, deskVersion: -1 };
})();
