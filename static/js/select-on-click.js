// A secret shown once is easiest to copy when one click selects all of it. A static file, not an
// inline onclick: the production Content-Security-Policy allows no inline script.
document.addEventListener("click", function (event) {
  if (event.target.matches("input[data-select-on-click]")) event.target.select();
});
