// A connection's header polls only while a run moves. When the entities section starts polling
// (Sync now, a run queued by the scheduler), it tells the header to look again: a static file and
// an event, not an htmx filter expression, since the production Content-Security-Policy allows no eval.
document.addEventListener("htmx:afterSettle", function () {
  var header = document.querySelector("#connection-header[data-polling=off]");
  if (header && document.querySelector("#live[data-polling=on]")) {
    document.body.dispatchEvent(new CustomEvent("live-started"));
  }
});
