import { html, nothing } from 'lit';
import { describeProblem } from '../shared/api.ts';
import { showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import {
  ageOf,
  failureNotice,
  newIdempotencyKey,
  operatorCall,
  showSignedAmount,
  when,
} from './console-session.ts';
import '../shared/styles.css';
import './console.css';

interface KindBalance {
  readonly accounts: number;
  readonly balance: string;
}

/** `GET /v1/operator/ledger-verifications/{id}`. */
interface Verification {
  readonly verificationId: string;
  readonly state: 'running' | 'done' | 'failed' | 'abandoned';
  readonly requestedBy: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly ok: boolean | null;
  readonly problemCount: number | null;
  readonly problems: readonly string[];
  readonly balances: Readonly<Record<string, KindBalance>> | null;
  readonly error: string | null;
}

interface Pending {
  readonly count: number;
  readonly amount: string;
  readonly oldestAt: string | null;
}

/** `GET /v1/operator/ledger-health`. */
interface Health {
  readonly lastVerification: Verification | null;
  readonly runningVerification: Verification | null;
  readonly pending: {
    readonly payments: Pending;
    readonly refunds: Pending;
    readonly topUps: Pending;
  };
}

/** How often a run under way is asked about, and for how long at most before the page stops. */
const pollIntervalMs = 2_000;
const pollsMax = 300;

const kindNames: readonly (readonly [string, string, string])[] = [
  ['wallets', 'Wallets', 'what users can spend'],
  ['merchants', 'Merchants', 'earned, not yet paid out'],
  ['platformFees', 'Platform fees', 'the platform\u2019s income'],
  ['processorReceivable', 'Processor receivable', 'owed by the card processor'],
  ['cardFees', 'Card fees', 'charged by the card processor'],
  ['settlement', 'Settlement', 'paid out to merchants\u2019 banks'],
  ['tokensOutstanding', 'Tokens outstanding', 'withdrawn as tokens, not yet deposited'],
  ['unclaimedBalances', 'Unclaimed balances', 'left by erased accounts, still owed'],
  ['sessionHolds', 'Session holds', 'passing through a session\u2019s settlement (empty between)'],
];

function verdict(run: Verification) {
  if (run.state === 'failed') {
    return html`<span class="status-bad">Could not verify</span>: ${run.error ?? 'no reason given'}`;
  }
  if (run.ok === true) return html`<span class="status-ok">OK</span>: every invariant holds`;
  return html`<span class="status-bad">Problems found</span>: ${run.problemCount ?? 0}`;
}

/** Ledger health: the last verification (and running one again), balances, what is pending. */
export class HealthPage extends MiteElement {
  static override properties = {
    health: { state: true },
    failure: { state: true },
    busy: { state: true },
    running: { state: true },
  };

  declare health: Health | undefined;
  declare failure: string | undefined;
  declare busy: boolean;
  declare running: Verification | undefined;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private polls = 0;

  constructor() {
    super();
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this.pollTimer);
  }

  private async load(): Promise<void> {
    const result = await operatorCall<Health>('GET', '/v1/operator/ledger-health');
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return;
    }
    this.health = result.value;
    this.running = result.value.runningVerification ?? undefined;
    if (this.running !== undefined) this.poll(this.running.verificationId);
  }

  private async verify(): Promise<void> {
    this.busy = true;
    this.failure = undefined;
    const result = await operatorCall<{ started: boolean; verification: Verification }>(
      'POST',
      '/v1/operator/ledger-verifications',
      { idempotencyKey: newIdempotencyKey() },
    );
    this.busy = false;
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return;
    }
    const run = result.value.verification;
    if (run.state === 'running') {
      this.running = run;
      this.poll(run.verificationId);
    } else {
      await this.load();
    }
  }

  /** Asks about the run until it is no longer running, then reloads the page's figures. */
  private poll(verificationId: string): void {
    clearTimeout(this.pollTimer);
    this.polls = 0;
    const ask = async (): Promise<void> => {
      this.polls++;
      const path = `/v1/operator/ledger-verifications/${encodeURIComponent(verificationId)}`;
      const result = await operatorCall<Verification>('GET', path);
      if (result.ok && result.value.state !== 'running') {
        this.running = undefined;
        await this.load();
        return;
      }
      if (!result.ok) this.failure = describeProblem(result.problem);
      if (this.polls < pollsMax) this.pollTimer = setTimeout(() => void ask(), pollIntervalMs);
    };
    this.pollTimer = setTimeout(() => void ask(), pollIntervalMs);
  }

  protected override render() {
    return html`<h1>Ledger health</h1>
      ${failureNotice(this.failure)}
      ${this.health === undefined ? html`<p role="status">Loading…</p>` : this.renderHealth()}`;
  }

  private renderHealth() {
    const last = this.health?.lastVerification ?? null;
    return html`<section aria-labelledby="verify-heading">
        <h2 id="verify-heading">Verification</h2>
        <p data-testid="verification" role="status">
          ${
            last === null
              ? 'The ledger has not been verified from the console yet.'
              : html`${verdict(last)}. Verified ${when(last.finishedAt)} (${ageOf(last.finishedAt)}
                  ago), asked by <code>${last.requestedBy}</code>.`
          }
        </p>
        ${this.renderProblems(last)}
        <div class="actions">
          <button
            type="button"
            ?disabled=${this.busy || this.running !== undefined}
            @click=${this.verify}
          >
            Verify the ledger now
          </button>
          ${
            this.running === undefined
              ? nothing
              : html`<span class="status-wait" role="status"
                  >Verifying since ${when(this.running.startedAt)}…</span
                >`
          }
        </div>
        <p class="hint">
          Verifying reads every account and transfer, so it runs in the background, one run at a
          time, at most once a minute.
        </p>
      </section>
      ${this.renderBalances(last)} ${this.renderPending()}`;
  }

  private renderProblems(run: Verification | null) {
    if (run === null || run.problems.length === 0) return nothing;
    return html`<details open>
      <summary>The problems found</summary>
      <ul>
        ${run.problems.map((problem) => html`<li><code>${problem}</code></li>`)}
      </ul>
    </details>`;
  }

  private renderBalances(run: Verification | null) {
    const balances = run?.balances;
    if (balances == null) return nothing;
    return html`<h2 id="balances-heading">Balances by kind of account</h2>
      <p class="hint">As read by the last verification, ${when(run?.finishedAt ?? null)}.</p>
      <div class="table-scroll">
        <table class="responsive-table" aria-labelledby="balances-heading">
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col" class="amount">Accounts</th>
              <th scope="col" class="amount">Balance</th>
            </tr>
          </thead>
          <tbody>
            ${kindNames.map(([kind, name, meaning]) => {
              const balance = balances[kind];
              return html`<tr>
                <td data-label="Kind">
                  <span class="cell">${name} <span class="hint">(${meaning})</span></span>
                </td>
                <td data-label="Accounts" class="amount">${balance?.accounts ?? 0}</td>
                <td data-label="Balance" class="amount" data-testid="balance-${kind}">
                  ${showSignedAmount(balance?.balance ?? '0.00')}
                </td>
              </tr>`;
            })}
          </tbody>
        </table>
      </div>`;
  }

  private renderPending() {
    const pending = this.health?.pending;
    if (pending === undefined) return nothing;
    const rows: readonly (readonly [string, Pending])[] = [
      ['Payments', pending.payments],
      ['Refunds', pending.refunds],
      ['Top-ups', pending.topUps],
    ];
    return html`<h2 id="pending-heading">Pending</h2>
      <p class="hint">
        Records whose money has not finished moving; the reconcilers finish them within a minute. An
        old one needs a look.
      </p>
      <div class="table-scroll">
        <table class="responsive-table" aria-labelledby="pending-heading">
          <thead>
            <tr>
              <th scope="col">What</th>
              <th scope="col" class="amount">Count</th>
              <th scope="col" class="amount">Amount</th>
              <th scope="col">Oldest</th>
            </tr>
          </thead>
          <tbody>
            ${rows.map(
              ([name, row]) =>
                html`<tr>
                  <td data-label="What">${name}</td>
                  <td data-label="Count" class="amount">${row.count}</td>
                  <td data-label="Amount" class="amount">${showAmount(row.amount)}</td>
                  <td data-label="Oldest">
                    ${row.oldestAt === null ? '–' : `${ageOf(row.oldestAt)} ago`}
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`;
  }
}

customElements.define('mite-health-page', HealthPage);
