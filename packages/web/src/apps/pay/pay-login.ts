/**
 * The log-in the payment windows show when the person has no wallet session on this browser:
 * the form, and the call that logs in and checks that the browser kept the session cookie.
 */
import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { field, inputValue, looksLikeEmail } from '../shared/forms.ts';
import { sessionKeptProblem } from '../shared/session-kept.ts';

/**
 * How long the Pay (or Start) button waits after the request is shown: a page that opens this window under
 * the pointer cannot have a click (or a double click) meant for itself land on Pay.
 */
export const payButtonDelayMs = 700;

/** Logs in with the form's email and password: undefined when logged in, else why not. */
export async function logInWith(form: HTMLFormElement): Promise<string | undefined> {
  const email = inputValue(form, 'email').trim();
  const password = inputValue(form, 'password');
  if (!looksLikeEmail(email) || password === '') {
    return 'Enter your email address and your password.';
  }
  const result = await callApi('POST', '/v1/sessions', { body: { email, password } });
  return result.ok ? await sessionKeptProblem('/v1/wallet') : describeProblem(result.problem);
}

/** The log-in form, with the site that asks and the last failure. */
export function logInView(
  askingOrigin: string | undefined,
  failure: string | undefined,
  onSubmit: (event: SubmitEvent) => void,
) {
  return html`<h1>Log in to pay</h1>
    <p>${askingOrigin} asks you to pay from your Mite wallet. Log in first.</p>
    ${failure === undefined ? nothing : html`<p class="notice error" role="alert">${failure}</p>`}
    <form novalidate @submit=${onSubmit} aria-label="Log in">
      ${field({ id: 'email', label: 'Email', type: 'email', autocomplete: 'username' })}
      ${field({ id: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' })}
      <div><button type="submit">Log in</button></div>
    </form>
    <p>No wallet yet? <a href="/wallet/signup/" target="_blank">Create one</a>.</p>`;
}
