import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { type FieldErrors, field, focusFirstInvalid, inputValue } from '../shared/forms.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { alertOf, loadMerchantSession, type Page, pagePath, when } from './merchant-context.ts';
import '../shared/styles.css';
import './account-screens.css';

/** `GET /v1/webhook-endpoints` items. */
interface Endpoint {
  readonly id: string;
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly createdAt: string;
}

/** `GET /v1/webhook-endpoints/{id}/attempts` items. */
interface Attempt {
  readonly id: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly attemptedAt: string;
  readonly status: number | null;
  readonly error: string | null;
  readonly durationMs: number;
}

/** The events a merchant's endpoint may take (server: webhooks/outbox.ts), in words. */
const eventTexts: Readonly<Record<string, string>> = {
  'payment.succeeded': 'A purchase succeeded',
  'refund.succeeded': 'A refund succeeded',
  'payout.paid': 'A payout was paid',
  'bank_account.updated': 'The payout bank account changed',
};
const eventTypes = Object.keys(eventTexts);

/** The platform's own limit on an endpoint's URL (webhookUrlLengthMax). */
const urlLengthMax = 2048;
const attemptsPageSize = 20;

type EndpointField = 'url';

/** Why a typed URL cannot be an endpoint, or undefined when it can. */
function urlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return 'Enter the full URL, starting with https://.';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'Use an https:// URL.';
  if (text.trim().length > urlLengthMax) return `At most ${urlLengthMax} characters.`;
  return undefined;
}

function attemptOutcome(attempt: Attempt) {
  if (attempt.status === null) {
    return html`<span class="status-bad">No answer: ${attempt.error ?? 'unknown error'}</span>`;
  }
  const good = attempt.status >= 200 && attempt.status < 300;
  return html`<span class=${good ? 'status-good' : 'status-bad'}>HTTP ${attempt.status}</span>`;
}

/**
 * The merchant's webhook endpoints: added (the signing secret shown once), removed, and each
 * one's delivery attempts, from which an event can be sent again.
 */
export class WebhooksPage extends MiteElement {
  static override properties = {
    endpoints: { state: true },
    attempts: { state: true },
    failure: { state: true },
    errors: { state: true },
    outcome: { state: true },
    secret: { state: true },
    busy: { state: true },
  };

  declare endpoints: readonly Endpoint[] | undefined;
  /** The attempts shown, by endpoint id (an endpoint whose attempts are open). */
  declare attempts: ReadonlyMap<string, Page<Attempt>>;
  declare failure: string | undefined;
  declare errors: FieldErrors<EndpointField | 'events'>;
  declare outcome: string | undefined;
  declare secret: string | undefined;
  declare busy: boolean;
  private unanswered: { key: string; body: string } | undefined;

  constructor() {
    super();
    this.attempts = new Map();
    this.errors = {};
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const session = await loadMerchantSession();
    if (typeof session === 'string') this.failure = session;
    else await this.refresh();
  }

  private async refresh(): Promise<void> {
    const listed = await callApi<{ items: Endpoint[] }>('GET', '/v1/webhook-endpoints');
    if (listed.ok) this.endpoints = listed.value.items;
    else this.failure = describeProblem(listed.problem);
  }

  private check(form: HTMLFormElement) {
    const errors: FieldErrors<EndpointField | 'events'> = {};
    const url = inputValue(form, 'url').trim();
    const problem = urlProblem(url);
    if (problem !== undefined) errors.url = problem;
    const chosen = eventTypes.filter(
      (type) => (form.elements.namedItem(type) as HTMLInputElement | null)?.checked === true,
    );
    if (chosen.length === 0) errors.events = 'Choose at least one event.';
    this.errors = errors;
    return Object.keys(errors).length === 0 ? { url, eventTypes: chosen } : undefined;
  }

  private async create(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    this.outcome = undefined;
    const body = this.check(form);
    if (body === undefined) {
      await this.updateComplete;
      focusFirstInvalid(form);
      if (this.errors.url === undefined)
        form.querySelector<HTMLInputElement>('.choice input')?.focus();
      return;
    }
    const text = JSON.stringify(body);
    const key = this.unanswered?.body === text ? this.unanswered.key : crypto.randomUUID();
    this.busy = true;
    const result = await callApi<Endpoint & { secret: string }>('POST', '/v1/webhook-endpoints', {
      body,
      idempotencyKey: key,
    });
    this.busy = false;
    this.unanswered = !result.ok && result.problem.status === 0 ? { key, body: text } : undefined;
    if (!result.ok) {
      this.outcome = `Not added. ${describeProblem(result.problem)}`;
      return;
    }
    form.reset();
    this.secret = result.value.secret;
    await this.refresh();
  }

  private async removeEndpoint(endpoint: Endpoint): Promise<void> {
    if (
      !window.confirm(`Remove the endpoint ${endpoint.url}? Its pending deliveries are dropped.`)
    ) {
      return;
    }
    const path = `/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}`;
    const result = await callApi('DELETE', path);
    this.outcome = result.ok
      ? `Removed ${endpoint.url}.`
      : `Not removed. ${describeProblem(result.problem)}`;
    await this.refresh();
  }

  /** Opens an endpoint's attempts (the first page), or the next page of them. */
  private async showAttempts(endpoint: Endpoint, more: boolean): Promise<void> {
    const shown = more ? this.attempts.get(endpoint.id) : undefined;
    const base = `/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/attempts`;
    const result = await callApi<Page<Attempt>>('GET', pagePath(base, attemptsPageSize, shown));
    if (!result.ok) {
      this.outcome = describeProblem(result.problem);
      return;
    }
    const page = {
      items: [...(shown?.items ?? []), ...result.value.items],
      nextCursor: result.value.nextCursor,
    };
    this.attempts = new Map([...this.attempts, [endpoint.id, page]]);
  }

  private async replay(attempt: Attempt): Promise<void> {
    const path = `/v1/webhook-events/${encodeURIComponent(attempt.eventId)}/replay`;
    // Each click is a new request to send the event again: a new key each time.
    const result = await callApi<{ deliveries: number }>('POST', path, {
      idempotencyKey: crypto.randomUUID(),
    });
    this.outcome = result.ok
      ? `Event ${attempt.eventId} queued again for ${result.value.deliveries} endpoint(s).`
      : `Not sent again. ${describeProblem(result.problem)}`;
  }

  protected override render() {
    return html`<h1>Webhooks</h1>
      <p>
        The platform tells your servers what happened (a purchase, a refund, a payout) by signed
        HTTP requests to your endpoints, retried with growing waits until one answers 2xx.
      </p>
      ${alertOf(this.failure)}
      ${
        this.outcome === undefined
          ? nothing
          : html`<p class="notice" role="status" data-testid="outcome">${this.outcome}</p>`
      }
      ${this.renderSecret()} ${this.renderEndpoints()} ${this.renderForm()}`;
  }

  private renderSecret() {
    if (this.secret === undefined) return nothing;
    return html`<section aria-labelledby="secret-heading">
      <h2 id="secret-heading">The endpoint's signing secret</h2>
      <mite-secret-once
        .secret=${this.secret}
        .label=${'Check each request\u2019s signature with it (Standard Webhooks).'}
      ></mite-secret-once>
      <p>
        <button type="button" @click=${() => (this.secret = undefined)}>
          I have saved it: hide the secret
        </button>
      </p>
    </section>`;
  }

  private renderEndpoints() {
    const endpoints = this.endpoints;
    if (endpoints === undefined) {
      return this.failure === undefined ? html`<p role="status">Loading…</p>` : nothing;
    }
    return html`<h2>Your endpoints</h2>
      ${
        endpoints.length === 0
          ? html`<p>No endpoints yet.</p>`
          : endpoints.map((endpoint) => this.renderEndpoint(endpoint))
      }`;
  }

  private renderEndpoint(endpoint: Endpoint) {
    const headingId = `endpoint-${endpoint.id}`;
    return html`<section
      class="endpoint"
      aria-labelledby=${headingId}
      data-endpoint-id=${endpoint.id}
    >
      <h3 id=${headingId}><code>${endpoint.url}</code></h3>
      <p class="hint">${endpoint.eventTypes.join(', ')} · added ${when(endpoint.createdAt)}</p>
      <div class="row-actions">
        <button type="button" class="secondary" @click=${() => this.showAttempts(endpoint, false)}>
          ${this.attempts.has(endpoint.id) ? 'Refresh' : 'Show'} delivery attempts<span
            class="visually-hidden"
          >
            to ${endpoint.url}</span
          >
        </button>
        <button type="button" class="secondary" @click=${() => this.removeEndpoint(endpoint)}>
          Remove<span class="visually-hidden"> ${endpoint.url}</span>
        </button>
      </div>
      ${this.renderAttempts(endpoint, headingId)}
    </section>`;
  }

  private renderAttempts(endpoint: Endpoint, headingId: string) {
    const page = this.attempts.get(endpoint.id);
    if (page === undefined) return nothing;
    if (page.items.length === 0) return html`<p role="status">No delivery attempts yet.</p>`;
    return html`<div class="table-scroll">
        <table class="responsive-table" aria-labelledby=${headingId} data-testid="attempts">
          <caption class="visually-hidden">
            Delivery attempts, newest first
          </caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Event</th>
              <th scope="col">Answer</th>
              <th scope="col">Took</th>
              <th scope="col">Replay</th>
            </tr>
          </thead>
          <tbody>
            ${page.items.map(
              (attempt) =>
                html`<tr>
                  <td data-label="When">${when(attempt.attemptedAt)}</td>
                  <td data-label="Event">${attempt.eventType} <code>${attempt.eventId}</code></td>
                  <td data-label="Answer">${attemptOutcome(attempt)}</td>
                  <td data-label="Took">${attempt.durationMs} ms</td>
                  <td data-label="Replay">
                    <button
                      type="button"
                      class="secondary small"
                      @click=${() => this.replay(attempt)}
                    >
                      Send again<span class="visually-hidden"> event ${attempt.eventId}</span>
                    </button>
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${
        page.nextCursor === null
          ? nothing
          : html`<p>
              <button
                type="button"
                class="secondary"
                @click=${() => this.showAttempts(endpoint, true)}
              >
                Show older attempts
              </button>
            </p>`
      }`;
  }

  private renderForm() {
    return html`<h2 id="add-heading">Add an endpoint</h2>
      <form novalidate @submit=${this.create} aria-labelledby="add-heading">
        ${field({
          id: 'url',
          label: 'Endpoint URL',
          type: 'url',
          inputmode: 'url',
          hint: 'Where the platform sends the events: your server, over https.',
          error: this.errors.url,
        })}
        <fieldset aria-describedby=${this.errors.events === undefined ? nothing : 'events-error'}>
          <legend>Events to send</legend>
          <div class="choices">
            ${eventTypes.map(
              (type) =>
                html`<label class="choice">
                  <input type="checkbox" name=${type} />
                  <span>${eventTexts[type]} <code>${type}</code></span>
                </label>`,
            )}
          </div>
          ${
            this.errors.events === undefined
              ? nothing
              : html`<p class="field-error" id="events-error">${this.errors.events}</p>`
          }
        </fieldset>
        <div><button type="submit" ?disabled=${this.busy}>Add endpoint</button></div>
      </form>`;
  }
}

customElements.define('mite-webhooks-page', WebhooksPage);
