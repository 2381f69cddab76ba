// Starts the GOV.UK Frontend components (error summary focus, service navigation toggle).
// A separate file, not an inline script, so the Content Security Policy can forbid inline code.
import { initAll } from '/govuk/govuk-frontend.min.js'
initAll()
