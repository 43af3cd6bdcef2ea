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

// The media library: several files chosen or dropped at once are sent one request each
// (POST /admin/media/upload, multipart, the page's CSRF token), each with its own
// progress line; the page reloads when all are done. Without JavaScript the form uploads
// one file.
(function () {
  'use strict';
  var form = document.getElementById('media-upload');
  if (!form) return;
  var input = document.getElementById('media-file');
  var drop = document.getElementById('media-drop');
  var list = document.getElementById('media-progress');
  var csrf = form.querySelector('input[name="_csrf"]').value;
  input.multiple = true;
  drop.hidden = false;
  function send(file) {
    return new Promise(function (resolve) {
      var li = document.createElement('li');
      var bar = document.createElement('progress');
      bar.max = 100;
      bar.value = 0;
      li.textContent = file.name + ' ';
      li.appendChild(bar);
      list.appendChild(li);
      var body = new FormData();
      body.append('_csrf', csrf);
      body.append('file', file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open('POST', '/admin/media/upload');
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
      };
      xhr.onload = function () {
        var ok = xhr.status === 200 || xhr.status === 201;
        var msg = 'done';
        try {
          var j = JSON.parse(xhr.responseText);
          if (!ok) msg = j.error.message;
        } catch (e) {
          if (!ok) msg = 'failed (' + xhr.status + ')';
        }
        bar.value = 100;
        li.appendChild(document.createTextNode(' ' + msg));
        li.className = ok ? 'ok' : 'error';
        resolve(ok);
      };
      xhr.onerror = function () {
        li.appendChild(document.createTextNode(' failed (network)'));
        li.className = 'error';
        resolve(false);
      };
      xhr.send(body);
    });
  }
  function sendAll(files) {
    var chain = Promise.resolve(true), all = true;
    Array.prototype.forEach.call(files, function (f) {
      chain = chain.then(function () { return send(f); }).then(function (ok) { all = all && ok; });
    });
    chain.then(function () { if (all) window.location.reload(); });
  }
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (input.files.length) sendAll(input.files);
  });
  drop.addEventListener('dragover', function (e) { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
  drop.addEventListener('drop', function (e) {
    e.preventDefault();
    drop.classList.remove('over');
    sendAll(e.dataTransfer.files);
  });
})();
