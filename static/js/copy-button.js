// "Copy" next to a secret shown once: <button data-copy="#input-id">. A static file, not an inline
// onclick: the production Content-Security-Policy allows no inline script.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var input = document.querySelector(button.getAttribute("data-copy"));
  if (!input) return;
  input.select();
  var done = function () { button.textContent = "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy") && done(); });
  } else if (document.execCommand("copy")) {
    done();
  }
});
