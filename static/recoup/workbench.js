// The call log in a few keystrokes: with the log form open and the focus outside a text field,
// the digits 1–9 and 0 pick the result shown with that number, and Enter saves.
document.addEventListener("keydown", (event) => {
  const form = document.querySelector("[data-testid=log-form]");
  if (!form || event.altKey || event.ctrlKey || event.metaKey) return;
  const tag = (event.target.tagName || "").toLowerCase();
  if (tag === "input" && event.target.type !== "radio") return;
  if (tag === "textarea" || tag === "select") return;
  if (/^[0-9]$/.test(event.key)) {
    const key = event.key === "0" ? "10" : event.key;
    const radio = form.querySelector(`input[type=radio][accesskey="${key}"]`);
    if (radio) {
      radio.checked = true;
      radio.focus();
      event.preventDefault();
    }
  } else if (event.key === "Enter" && tag !== "button" && form.querySelector("input[name=result]:checked")) {
    form.querySelector("[data-testid=log-submit]").click();
    event.preventDefault();
  }
});
