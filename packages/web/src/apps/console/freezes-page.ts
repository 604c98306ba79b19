import { html } from 'lit';
import { describeProblem } from '../shared/api.ts';
import { MiteElement } from '../shared/mite-element.ts';
import {
  consolePaths,
  failureNotice,
  moreButton,
  newIdempotencyKey,
  nextPage,
  operatorCall,
  type Page,
  when,
} from './console-session.ts';
import type { AccountFreeze } from './review-types.ts';
import '../shared/styles.css';
import './console.css';

/**
 * The accounts frozen after a confirmed fraud, newest first, those in force first asked for;
 * each in force with a "Lift" button, after which the account pays, is paid and paid out again.
 */
export class FreezesPage extends MiteElement {
  static override properties = {
    freezes: { state: true },
    failure: { state: true },
    status: { state: true },
    inForce: { state: true },
  };

  declare freezes: Page<AccountFreeze> | undefined;
  declare failure: string | undefined;
  declare status: string | undefined;
  declare inForce: boolean;
  /** One key per freeze's lift, kept for a retry after no answer. */
  private readonly liftKeys = new Map<string, string>();

  constructor() {
    super();
    this.inForce = true;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.more();
  }

  private async more(): Promise<void> {
    const path = `/v1/operator/account-freezes${this.inForce ? '?inForce=true' : ''}`;
    const { page, failure } = await nextPage<AccountFreeze>(path, this.freezes);
    this.freezes = page;
    this.failure = failure;
  }

  private showAll(event: Event): void {
    this.inForce = !(event.currentTarget as HTMLInputElement).checked;
    this.freezes = undefined;
    void this.more();
  }

  private async lift(freeze: AccountFreeze): Promise<void> {
    const key = this.liftKeys.get(freeze.freezeId) ?? newIdempotencyKey();
    this.liftKeys.set(freeze.freezeId, key);
    this.failure = undefined;
    const result = await operatorCall<AccountFreeze>(
      'POST',
      `/v1/operator/account-freezes/${encodeURIComponent(freeze.freezeId)}/lift`,
      { idempotencyKey: key },
    );
    if (!result.ok) {
      if (result.problem.status !== 0) this.liftKeys.delete(freeze.freezeId);
      this.failure = describeProblem(result.problem);
      return;
    }
    this.liftKeys.delete(freeze.freezeId);
    this.status = `Lifted the freeze of ${freeze.account.kind} ${freeze.account.id}.`;
    this.freezes = undefined;
    await this.more();
  }

  protected override render() {
    return html`<h1>Frozen accounts</h1>
      <p>
        Frozen when an operator confirmed a fraud in the <a href=${consolePaths.review}>review</a>.
        A frozen user can neither pay, top up nor withdraw tokens; a frozen merchant is neither paid
        nor paid out, and keeps its balance.
      </p>
      <p class="check">
        <input type="checkbox" id="show-lifted" @change=${this.showAll} />
        <label for="show-lifted">Show lifted freezes too</label>
      </p>
      ${failureNotice(this.failure)}
      ${this.status === undefined ? '' : html`<p role="status" class="notice">${this.status}</p>`}
      ${this.renderList()}`;
  }

  private renderList() {
    const freezes = this.freezes?.items;
    if (freezes === undefined) return html`<p role="status">Loading…</p>`;
    if (freezes.length === 0) return html`<p>No account is frozen.</p>`;
    return html`<div class="table-scroll">
        <table class="responsive-table" aria-label="Frozen accounts" data-testid="freezes">
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Frozen</th>
              <th scope="col">Decision</th>
              <th scope="col">Lifted</th>
              <th scope="col"><span class="visually-hidden">Action</span></th>
            </tr>
          </thead>
          <tbody>
            ${freezes.map(
              (freeze) =>
                html`<tr>
                  <td data-label="Account">
                    ${freeze.account.kind} <code>${freeze.account.id}</code>
                  </td>
                  <td data-label="Frozen">${when(freeze.frozenAt)}</td>
                  <td data-label="Decision">
                    <a
                      href=${`${consolePaths.decision}?decision=${encodeURIComponent(freeze.decisionId)}`}
                      ><code>${freeze.decisionId}</code></a
                    >
                  </td>
                  <td data-label="Lifted">${when(freeze.liftedAt)}</td>
                  <td data-label="Action">
                    ${
                      freeze.liftedAt === null
                        ? html`<button
                            type="button"
                            class="secondary"
                            aria-label=${`Lift the freeze of ${freeze.account.kind} ${freeze.account.id}`}
                            @click=${() => void this.lift(freeze)}
                          >
                            Lift
                          </button>`
                        : ''
                    }
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${moreButton(this.freezes, 'Show older freezes', () => void this.more())}`;
  }
}

customElements.define('mite-freezes-page', FreezesPage);
