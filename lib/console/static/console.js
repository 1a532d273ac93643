// The console's only script. Pages work without it; it shows dates in the reader's time
// zone and keeps the live backfill progress on the Mailboxes page current.
(function () {
  'use strict';
  function localTimes(root) {
    var els = root.querySelectorAll('time[datetime]');
    for (var i = 0; i < els.length; i++) {
      var d = new Date(els[i].getAttribute('datetime'));
      if (!isNaN(d.getTime())) {
        els[i].textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
        els[i].title = d.toISOString();
      }
    }
  }
  function progress() {
    var box = document.querySelector('[data-progress-url]');
    if (!box) return;
    var url = box.getAttribute('data-progress-url');
    function tick() {
      fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          var anyRunning = false;
          data.accounts.forEach(function (a) {
            var cell = document.getElementById('progress-' + a.id);
            if (!cell) return;
            cell.setAttribute('data-phase', a.phase);
            var text = cell.querySelector('.progress-text');
            if (text) text.textContent = a.text;
            var hint = cell.querySelector('.progress-hint');
            if (hint) hint.textContent = a.hint ? 'What to do: ' + a.hint : '';
            var bar = cell.querySelector('progress');
            if (bar) {
              // Indeterminate (moving) only while a run is going and its total is unknown.
              if (a.fraction === null) bar.removeAttribute('value');
              else bar.value = a.fraction;
              bar.hidden = a.phase === 'blocked';
            }
            var state = document.getElementById('state-' + a.id);
            if (state) state.textContent = a.state;
            if (a.phase === 'running') anyRunning = true;
          });
          setTimeout(tick, anyRunning ? 1000 : 4000);
        })
        .catch(function () { setTimeout(tick, 5000); });
    }
    tick();
  }
  document.addEventListener('DOMContentLoaded', function () {
    localTimes(document);
    progress();
  });
})();
