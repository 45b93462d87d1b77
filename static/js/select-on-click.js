// A secret shown once is easiest to copy when one click selects all of it. A static file, not an
// inline onclick: the production Content-Security-Policy allows no inline script.
document.addEventListener("click", function (event) {
  if (event.target.matches("input[data-select-on-click]")) event.target.select();
});
// A "Copy" button next to a secret shown once: data-copy names the input whose value it copies.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var input = document.getElementById(button.dataset.copy);
  input.select();
  if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(function () { button.textContent = "Copied"; });
});
