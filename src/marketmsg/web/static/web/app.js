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
