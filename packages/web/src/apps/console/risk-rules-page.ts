/**
 * The risk rules (`/v1/operator/risk/`): the rule set in force, as JSON, every version stored,
 * and a form that puts a new version in force. The platform checks a set whole: a refused one
 * lists every problem with where it is, and nothing changes.
 */
import { html, nothing } from 'lit';
import { describeProblem, type Problem } from '../shared/api.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { failureNotice, newIdempotencyKey, operatorCall, when } from './console-session.ts';
import '../shared/styles.css';
import './console.css';

/** A version of the rules, as the routes answer it. */
interface StoredRuleSet {
  readonly version: string;
  readonly ruleSet: unknown;
  readonly createdBy: string | null;
  readonly createdAt: string | null;
  readonly inForce: boolean;
}

/** What the last submission was refused for: the problem, and its list of errors if any. */
interface Refusal {
  readonly sentence: string;
  readonly errors: readonly { readonly path: string; readonly message: string }[];
}

function refusalOf(problem: Problem): Refusal {
  return { sentence: describeProblem(problem), errors: problem.errors ?? [] };
}

export class RiskRulesPage extends MiteElement {
  static override properties = {
    inForce: { state: true },
    history: { state: true },
    failure: { state: true },
    refusal: { state: true },
    published: { state: true },
    sending: { state: true },
  };
  declare inForce: StoredRuleSet | undefined;
  declare history: readonly StoredRuleSet[] | undefined;
  declare failure: string | undefined;
  declare refusal: Refusal | undefined;
  declare published: string | undefined;
  declare sending: boolean;
  /** One key per text sent: sending the same text again after a lost answer is a retry. */
  private pending: { text: string; key: string } | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const [inForce, history] = await Promise.all([
      operatorCall<StoredRuleSet>('GET', '/v1/operator/risk/rule-set'),
      operatorCall<{ ruleSets: StoredRuleSet[] }>('GET', '/v1/operator/risk/rule-sets'),
    ]);
    if (inForce.ok) this.inForce = inForce.value;
    if (history.ok) this.history = history.value.ruleSets;
    const failed = !inForce.ok ? inForce : !history.ok ? history : undefined;
    this.failure = failed === undefined ? undefined : describeProblem(failed.problem);
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const area = form.elements.namedItem('rule-set');
    const text = area instanceof HTMLTextAreaElement ? area.value : '';
    this.published = undefined;
    let ruleSet: unknown;
    try {
      ruleSet = JSON.parse(text);
    } catch (error) {
      this.refusal = { sentence: `This is not JSON: ${String(error)}`, errors: [] };
      return;
    }
    if (this.pending?.text !== text) this.pending = { text, key: newIdempotencyKey() };
    this.sending = true;
    const result = await operatorCall<StoredRuleSet>('POST', '/v1/operator/risk/rule-sets', {
      body: ruleSet,
      idempotencyKey: this.pending.key,
    });
    this.sending = false;
    if (!result.ok) {
      this.refusal = refusalOf(result.problem);
      // A refusal is final for this text: a corrected one is a new request.
      if (result.problem.status !== 0) this.pending = undefined;
      return;
    }
    this.pending = undefined;
    this.refusal = undefined;
    this.published = result.value.version;
    await this.load();
  }

  protected override render() {
    return html`<h1>Risk rules</h1>
      ${failureNotice(this.failure)} ${this.renderInForce()} ${this.renderForm()}
      ${this.renderHistory()}`;
  }

  private renderInForce() {
    const inForce = this.inForce;
    if (inForce === undefined) return html`<p role="status">Loading…</p>`;
    return html`<h2>In force</h2>
      <p>
        Version <strong data-testid="in-force-version">${inForce.version}</strong>,
        ${
          inForce.createdBy === null
            ? 'the built-in default (no version has been stored)'
            : html`written by <code>${inForce.createdBy}</code> ${when(inForce.createdAt)}`
        }.
      </p>
      <pre class="json" tabindex="0" aria-label="The rule set in force, as JSON">
${JSON.stringify(inForce.ruleSet, null, 2)}</pre>`;
  }

  private renderForm() {
    const refusal = this.refusal;
    return html`<h2>Put a new version in force</h2>
      <p class="hint" id="rule-set-hint">
        The whole rule set as JSON, with a version not used before. It decides the next payment at
        once; every other node takes it within seconds.
      </p>
      ${
        this.published === undefined
          ? nothing
          : html`<p class="notice" role="status" data-testid="published">
              Version ${this.published} is in force.
            </p>`
      }
      ${
        refusal === undefined
          ? nothing
          : html`<div class="notice error" role="alert" data-testid="refusal">
              <p>${refusal.sentence}</p>
              ${
                refusal.errors.length === 0
                  ? nothing
                  : html`<ul data-testid="rule-set-errors">
                      ${refusal.errors.map(
                        (error) =>
                          html`<li><code>${error.path || '/'}</code>: ${error.message}</li>`,
                      )}
                    </ul>`
              }
            </div>`
      }
      <form novalidate @submit=${(event: SubmitEvent) => void this.submit(event)}>
        <div class="field">
          <label for="rule-set">New rule set (JSON)</label>
          <textarea
            id="rule-set"
            name="rule-set"
            rows="16"
            spellcheck="false"
            aria-describedby="rule-set-hint"
            aria-invalid=${refusal === undefined ? 'false' : 'true'}
            .value=${this.inForce === undefined ? '' : JSON.stringify(this.inForce.ruleSet, null, 2)}
          ></textarea>
        </div>
        <button type="submit" ?disabled=${this.sending}>Put in force</button>
      </form>`;
  }

  private renderHistory() {
    const history = this.history;
    if (history === undefined) return nothing;
    if (history.length === 0) {
      return html`<h2>History</h2>
        <p>No version has been stored: the built-in default is in force.</p>`;
    }
    return html`<h2 id="history-heading">History</h2>
      <div class="table-scroll">
        <table class="responsive-table" aria-labelledby="history-heading" data-testid="history">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Written by</th>
              <th scope="col">When</th>
              <th scope="col">In force</th>
            </tr>
          </thead>
          <tbody>
            ${history.map(
              (set) =>
                html`<tr>
                  <td data-label="Version"><code>${set.version}</code></td>
                  <td data-label="Written by"><code>${set.createdBy ?? '–'}</code></td>
                  <td data-label="When">${when(set.createdAt)}</td>
                  <td data-label="In force">${set.inForce ? 'Yes' : 'No'}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`;
  }
}

customElements.define('mite-risk-rules-page', RiskRulesPage);
