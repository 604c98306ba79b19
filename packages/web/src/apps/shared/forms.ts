import { html, nothing, type TemplateResult } from 'lit';

/** What each field of a form says is wrong with it; an empty map sends the form. */
export type FieldErrors<F extends string> = Partial<Record<F, string>>;

export interface FieldOptions {
  readonly id: string;
  readonly label: string;
  readonly type?: string;
  readonly autocomplete?: string;
  readonly inputmode?: string;
  readonly hint?: string;
  readonly error?: string | undefined;
  readonly value?: string;
}

/**
 * A labelled input whose hint and error are tied to it by aria-describedby, so that a screen
 * reader reads them with the field; a field in error is marked aria-invalid.
 */
export function field(options: FieldOptions): TemplateResult {
  const hintId = `${options.id}-hint`;
  const errorId = `${options.id}-error`;
  const describedBy = [
    options.hint === undefined ? undefined : hintId,
    options.error === undefined ? undefined : errorId,
  ]
    .filter((id) => id !== undefined)
    .join(' ');
  return html`<div class="field">
    <label for=${options.id}>${options.label}</label>
    ${options.hint === undefined ? nothing : html`<p class="hint" id=${hintId}>${options.hint}</p>`}
    <input
      id=${options.id}
      name=${options.id}
      type=${options.type ?? 'text'}
      autocomplete=${options.autocomplete ?? 'off'}
      inputmode=${options.inputmode ?? nothing}
      aria-invalid=${options.error === undefined ? 'false' : 'true'}
      aria-describedby=${describedBy === '' ? nothing : describedBy}
      .value=${options.value ?? ''}
    />
    ${
      options.error === undefined
        ? nothing
        : html`<p class="field-error" id=${errorId}>${options.error}</p>`
    }
  </div>`;
}

/** The value of a form's named input, trimmed of nothing. */
export function inputValue(form: HTMLFormElement, name: string): string {
  const element = form.elements.namedItem(name);
  return element instanceof HTMLInputElement ? element.value : '';
}

/** Moves the keyboard to the first field in error, so that its message is read next. */
export function focusFirstInvalid(form: HTMLFormElement): void {
  form.querySelector<HTMLInputElement>('[aria-invalid="true"]')?.focus();
}

/** Whether a typed email looks like one: the server checks it properly. */
export function looksLikeEmail(text: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text.trim()) && text.trim().length <= 254;
}

export type LogInField = 'email' | 'password';

/** A log-in form's email and password, and what is wrong with them: every app logs in alike. */
export function readLogIn(form: HTMLFormElement): {
  readonly email: string;
  readonly password: string;
  readonly errors: FieldErrors<LogInField>;
} {
  const email = inputValue(form, 'email').trim();
  const password = inputValue(form, 'password');
  const errors: FieldErrors<LogInField> = {};
  if (!looksLikeEmail(email)) errors.email = 'Enter your email address, like name@example.com.';
  if (password === '') errors.password = 'Enter your password.';
  return { email, password, errors };
}

/** A log-in form's two fields, which password managers recognise by their autocomplete. */
export function logInFields(errors: FieldErrors<LogInField>): TemplateResult {
  return html`${field({
    id: 'email',
    label: 'Email',
    type: 'email',
    autocomplete: 'username',
    error: errors.email,
  })}
  ${field({
    id: 'password',
    label: 'Password',
    type: 'password',
    autocomplete: 'current-password',
    error: errors.password,
  })}`;
}
