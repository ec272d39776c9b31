// Behaviour the pages used to carry in inline attributes, which the Content-Security-Policy
// forbids (script-src 'self', no 'unsafe-inline'). Delegated from the document, so it also
// works for parts of a page that htmx swaps in.
"use strict";

// <select data-autosubmit>: choosing an option submits its form (the language switcher).
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.dataset.autosubmit !== undefined && field.form) {
    field.form.submit();
  }
});

// <form data-confirm="question">: asks before the form is sent (deleting a template).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// The live guideline check (#guideline-check, swapped in by htmx): while it lists findings that
// would block the message, the form's send button waits; it comes back once they are gone.
document.addEventListener("htmx:afterSwap", (event) => {
  const area = event.target;
  if (!(area instanceof HTMLElement) || area.id !== "guideline-check") {
    return;
  }
  const blocking = area.querySelector("[data-blocking]") !== null;
  const form = area.closest("form");
  if (form) {
    form.querySelectorAll("button[type=submit]").forEach((button) => {
      button.disabled = blocking;
    });
  }
});
