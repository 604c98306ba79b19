import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { alertOf, loadMerchantSession, type MerchantSession, when } from './merchant-context.ts';
import '../shared/styles.css';
import './account-screens.css';

/** `GET /v1/api-keys` items. */
interface ApiKey {
  readonly keyId: string;
  readonly scopes: readonly string[];
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/** The merchant scopes (server: auth/scopes.ts), each with what it lets a key do. */
const scopeTexts: Readonly<Record<string, string>> = {
  'offers:read': 'Read offers',
  'offers:write': 'Publish offers, change terms',
  'payments:read': 'Read payments and refunds',
  'refunds:write': 'Refund payments',
  'redemptions:read': 'Read the code redemptions you reported',
  'redemptions:write': 'Report that codes customers bought were redeemed, and by whom',
  'reports:read': 'Read reports and payouts',
  'tokens:deposit': 'Deposit the tokens customers pay with',
  'webhooks:read': 'Read webhook endpoints and deliveries',
  'webhooks:write': 'Add and remove webhook endpoints, replay events',
  'bank_account:read': 'Read the payout bank account',
  'bank_account:write': 'Change the payout bank account',
  'customers:read': 'Read customers\u2019 emails they share with you',
  'api_keys:read': 'List API keys',
  'api_keys:write': 'Issue, rotate and revoke API keys',
};
const scopes = Object.keys(scopeTexts);

/** A new secret, shown once: after creation or rotation. */
interface Shown {
  readonly keyId: string;
  readonly secret: string;
  readonly what: string;
}

/** The prefix a key's secret starts with, which is all that is ever shown again. */
function prefixOf(keyId: string): string {
  return `mite_k_${keyId}_…`;
}

/**
 * The merchant's API keys for its servers: listed (never their secrets), issued with chosen
 * scopes (the secret shown once), rotated and revoked.
 */
export class KeysPage extends MiteElement {
  static override properties = {
    session: { state: true },
    keys: { state: true },
    failure: { state: true },
    scopeError: { state: true },
    outcome: { state: true },
    shown: { state: true },
    busy: { state: true },
  };

  declare session: MerchantSession | undefined;
  declare keys: readonly ApiKey[] | undefined;
  declare failure: string | undefined;
  declare scopeError: string | undefined;
  declare outcome: string | undefined;
  declare shown: Shown | undefined;
  declare busy: boolean;
  /** The key of a creation that got no answer, reused when the same scopes are sent again. */
  private unanswered: { key: string; body: string } | undefined;

  constructor() {
    super();
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const session = await loadMerchantSession();
    if (typeof session === 'string') {
      this.failure = session;
      return;
    }
    this.session = session;
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    const listed = await callApi<{ items: ApiKey[] }>('GET', '/v1/api-keys');
    if (listed.ok) this.keys = [...listed.value.items].reverse();
    else this.failure = describeProblem(listed.problem);
  }

  private async create(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const chosen = scopes.filter(
      (scope) => (form.elements.namedItem(scope) as HTMLInputElement | null)?.checked === true,
    );
    this.outcome = undefined;
    if (chosen.length === 0) {
      this.scopeError = 'Choose at least one scope: a key without one can do nothing.';
      await this.updateComplete;
      form.querySelector<HTMLInputElement>('input[type="checkbox"]:not([disabled])')?.focus();
      return;
    }
    this.scopeError = undefined;
    const body = { scopes: chosen };
    const text = JSON.stringify(body);
    const key = this.unanswered?.body === text ? this.unanswered.key : crypto.randomUUID();
    this.busy = true;
    const result = await callApi<{ keyId: string; secret: string }>('POST', '/v1/api-keys', {
      body,
      idempotencyKey: key,
    });
    this.busy = false;
    this.unanswered = !result.ok && result.problem.status === 0 ? { key, body: text } : undefined;
    if (!result.ok) {
      this.outcome = `Not created. ${describeProblem(result.problem)}`;
      return;
    }
    form.reset();
    this.shown = { ...result.value, what: 'The new key.' };
    await this.refresh();
  }

  private async rotate(key: ApiKey): Promise<void> {
    const sure = window.confirm(
      `Rotate ${prefixOf(key.keyId)}? It stops working at once; a new key with the same scopes replaces it.`,
    );
    if (!sure) return;
    // Not idempotent on the platform, so that the new secret is stored nowhere: no key is sent.
    const result = await callApi<{ keyId: string; secret: string }>(
      'POST',
      `/v1/api-keys/${encodeURIComponent(key.keyId)}/rotate`,
    );
    if (!result.ok) {
      this.outcome = `Not rotated. ${describeProblem(result.problem)}`;
      return;
    }
    this.outcome = undefined;
    this.shown = { ...result.value, what: `The key that replaces ${prefixOf(key.keyId)}.` };
    await this.refresh();
  }

  private async revoke(key: ApiKey): Promise<void> {
    const sure = window.confirm(
      `Revoke ${prefixOf(key.keyId)}? Every server using it is refused from its next request.`,
    );
    if (!sure) return;
    const result = await callApi('DELETE', `/v1/api-keys/${encodeURIComponent(key.keyId)}`);
    this.outcome = result.ok
      ? `Revoked ${prefixOf(key.keyId)}: it no longer works.`
      : `Not revoked. ${describeProblem(result.problem)}`;
    await this.refresh();
  }

  protected override render() {
    return html`<h1>API keys</h1>
      <p>
        Your servers call the platform with these keys (as <code>Authorization: Bearer …</code>).
        Give each server a key of its own with only the scopes it needs, so that one can be revoked
        without stopping the others.
      </p>
      ${alertOf(this.failure)}
      ${
        this.outcome === undefined
          ? nothing
          : html`<p class="notice" role="status" data-testid="outcome">${this.outcome}</p>`
      }
      ${this.renderShown()} ${this.renderKeys()} ${this.renderForm()}`;
  }

  private renderShown() {
    const shown = this.shown;
    if (shown === undefined) return nothing;
    return html`<section aria-labelledby="shown-heading">
      <h2 id="shown-heading">Your new key</h2>
      <mite-secret-once .secret=${shown.secret} .label=${shown.what}></mite-secret-once>
      <p>
        <button type="button" @click=${() => (this.shown = undefined)}>
          I have saved it: hide the key
        </button>
      </p>
    </section>`;
  }

  private renderKeys() {
    const keys = this.keys;
    if (keys === undefined) {
      return this.failure === undefined ? html`<p role="status">Loading your keys…</p>` : nothing;
    }
    return html`<h2 id="keys-heading">Your keys</h2>
      ${
        keys.length === 0
          ? html`<p>No keys yet.</p>`
          : html`<div class="table-scroll">
              <table class="responsive-table" aria-labelledby="keys-heading" data-testid="keys">
                <thead>
                  <tr>
                    <th scope="col">Key</th>
                    <th scope="col">Scopes</th>
                    <th scope="col">Created</th>
                    <th scope="col">Last used</th>
                    <th scope="col">State</th>
                  </tr>
                </thead>
                <tbody>
                  ${keys.map((key) => this.renderKey(key))}
                </tbody>
              </table>
            </div>`
      }`;
  }

  private renderKey(key: ApiKey) {
    const prefix = prefixOf(key.keyId);
    return html`<tr data-key-id=${key.keyId}>
      <td data-label="Key"><code class="key-prefix">${prefix}</code></td>
      <td data-label="Scopes">${key.scopes.join(', ')}</td>
      <td data-label="Created">${when(key.createdAt)}</td>
      <td data-label="Last used">${key.lastUsedAt === null ? 'Never' : when(key.lastUsedAt)}</td>
      <td data-label="State">
        ${
          key.revokedAt !== null
            ? html`<span class="status-bad">Revoked ${when(key.revokedAt)}</span>`
            : html`<div class="row-actions">
                <button type="button" class="secondary" @click=${() => this.rotate(key)}>
                  Rotate<span class="visually-hidden"> ${prefix}</span>
                </button>
                <button type="button" class="secondary" @click=${() => this.revoke(key)}>
                  Revoke<span class="visually-hidden"> ${prefix}</span>
                </button>
              </div>`
        }
      </td>
    </tr>`;
  }

  private renderForm() {
    const held = this.session?.scopes ?? [];
    const errorId = 'scopes-error';
    return html`<h2 id="create-heading">Create a key</h2>
      <form novalidate @submit=${this.create} aria-labelledby="create-heading">
        <fieldset aria-describedby=${this.scopeError === undefined ? 'scopes-hint' : errorId}>
          <legend>What the key may do</legend>
          <p class="hint" id="scopes-hint">
            A key gets only scopes you hold yourself; the others are greyed out.
          </p>
          <div class="choices">
            ${scopes.map(
              (scope) =>
                html`<label class="choice">
                  <input type="checkbox" name=${scope} ?disabled=${!held.includes(scope)} />
                  <span>${scopeTexts[scope]} <code>${scope}</code></span>
                </label>`,
            )}
          </div>
          ${
            this.scopeError === undefined
              ? nothing
              : html`<p class="field-error" id=${errorId}>${this.scopeError}</p>`
          }
        </fieldset>
        <div><button type="submit" ?disabled=${this.busy}>Create key</button></div>
      </form>`;
  }
}

customElements.define('mite-keys-page', KeysPage);
