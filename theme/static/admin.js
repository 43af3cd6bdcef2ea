// admin.js: progressive enhancement only (the panel works without it): a live Markdown
// preview in the editor, rendered by the server (POST /admin/preview) with the same
// renderer as the site, so what you see is what the site shows.
(function () {
  'use strict';
  var area = document.querySelector('textarea[data-preview]');
  if (!area) return;
  var target = document.getElementById(area.getAttribute('data-preview'));
  var csrf = area.form.querySelector('input[name="_csrf"]').value;
  var timer = null;
  function refresh() {
    var body = new URLSearchParams();
    body.set('_csrf', csrf);
    body.set('body_md', area.value);
    fetch('/admin/preview', {method: 'POST', body: body, credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { target.innerHTML = html; })
      .catch(function () {});
  }
  area.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
})();
