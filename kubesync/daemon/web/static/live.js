// Live updates without a reload: every element with data-live is re-fetched as a server-rendered fragment.
document.querySelectorAll("[data-live]").forEach(function (el) {
  setInterval(function () {
    fetch(el.dataset.live, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && html !== el.innerHTML) { el.innerHTML = html; } })
      .catch(function () {});
  }, 2000);
});
