// A Premium receipt: the page is the printout (premium.css hides the rest when
// printing); the button only opens the browser's print dialog.

const button = document.getElementById("print-receipt");
if (button) {
  button.addEventListener("click", () => window.print());
  button.disabled = false;
}
