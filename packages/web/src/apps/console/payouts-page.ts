import { html, nothing } from 'lit';
import { describeProblem } from '../shared/api.ts';
import { showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import {
  failureNotice,
  moreButton,
  newIdempotencyKey,
  nextPage,
  operatorCall,
  type Page,
  when,
} from './console-session.ts';
import '../shared/styles.css';
import './console.css';

/** `GET /v1/payout-batches` items. */
interface Batch {
  readonly batchId: string;
  readonly state: 'building' | 'paid' | 'failed';
  readonly createdAt: string;
  readonly completedAt: string | null;
  readonly total: string;
  readonly count: number;
  readonly files: { readonly xml: string; readonly csv: string } | null;
}

interface StateSum {
  readonly count: number;
  readonly amount: string;
}

/** `GET /v1/operator/payout-batches/{id}/progress`: counts and sums, no bank details. */
interface Progress {
  readonly paid: StateSum;
  readonly pending: StateSum;
  readonly failed: StateSum;
}

/** `POST /v1/payout-runs`. */
interface RunAnswer {
  readonly nothingDue?: true;
  readonly batchId?: string;
  readonly count?: number;
  readonly total?: string;
  readonly resumedBatchIds: readonly string[];
  readonly held: readonly { readonly merchantId: string; readonly heldUntil: string }[];
}

const stateNames = { building: 'Building', paid: 'Paid', failed: 'Failed' } as const;

function runSummary(run: RunAnswer): string {
  const resumed =
    run.resumedBatchIds.length === 0
      ? ''
      : ` Finished ${run.resumedBatchIds.length} batch(es) an earlier run had left building.`;
  const held =
    run.held.length === 0
      ? ''
      : ` ${run.held.length} merchant(s) held: their bank details changed lately.`;
  if (run.nothingDue === true) return `No merchant was due a payout.${resumed}${held}`;
  return (
    `Batch ${run.batchId ?? ''}: ${run.count ?? 0} payout(s), ` +
    `${showAmount(run.total ?? '0')} in all.${resumed}${held}`
  );
}

/** Payout batches, newest first, with their progress and bank files; and a run. */
export class PayoutsPage extends MiteElement {
  static override properties = {
    batches: { state: true },
    progress: { state: true },
    failure: { state: true },
    outcome: { state: true },
    busy: { state: true },
  };

  declare batches: Page<Batch> | undefined;
  declare progress: ReadonlyMap<string, Progress>;
  declare failure: string | undefined;
  declare outcome: string | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.progress = new Map();
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.more();
  }

  private async more(): Promise<void> {
    const { page, failure } = await nextPage<Batch>('/v1/payout-batches', this.batches);
    this.batches = page;
    this.failure = failure;
  }

  private async run(): Promise<void> {
    this.busy = true;
    this.failure = undefined;
    this.outcome = undefined;
    const result = await operatorCall<RunAnswer>('POST', '/v1/payout-runs', {
      idempotencyKey: newIdempotencyKey(),
    });
    this.busy = false;
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return;
    }
    this.outcome = runSummary(result.value);
    this.batches = undefined;
    await this.more();
  }

  private async showProgress(batchId: string): Promise<void> {
    const path = `/v1/operator/payout-batches/${encodeURIComponent(batchId)}/progress`;
    const result = await operatorCall<Progress>('GET', path);
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return;
    }
    this.progress = new Map([...this.progress, [batchId, result.value]]);
  }

  protected override render() {
    return html`<h1>Payouts</h1>
      ${failureNotice(this.failure)}
      ${
        this.outcome === undefined
          ? nothing
          : html`<p class="notice success" role="status">${this.outcome}</p>`
      }
      <div class="actions">
        <button type="button" ?disabled=${this.busy} @click=${this.run}>Run payouts now</button>
      </div>
      <p class="hint">
        A run pays every merchant whose balance passed its threshold and whose bank details are past
        their cooling-off period, in one batch, and writes its bank files.
      </p>
      ${this.renderBatches()}`;
  }

  private renderProgress(batch: Batch) {
    const progress = this.progress.get(batch.batchId);
    if (progress === undefined) {
      return html`<button
        type="button"
        class="secondary"
        @click=${() => void this.showProgress(batch.batchId)}
      >
        Progress<span class="visually-hidden"> of batch ${batch.batchId}</span>
      </button>`;
    }
    return html`<span role="status" class="cell"
      >${progress.paid.count} paid (${showAmount(progress.paid.amount)}), ${progress.pending.count}
      pending (${showAmount(progress.pending.amount)}), ${progress.failed.count} failed</span
    >`;
  }

  private renderBatches() {
    const batches = this.batches?.items;
    if (batches === undefined) return html`<p role="status">Loading…</p>`;
    if (batches.length === 0)
      return html`<h2>Batches</h2>
        <p>No payout batch yet.</p>`;
    return html`<h2 id="batches-heading">Batches</h2>
      <div class="table-scroll">
        <table class="responsive-table" aria-labelledby="batches-heading">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">State</th>
              <th scope="col" class="amount">Payouts</th>
              <th scope="col" class="amount">Total</th>
              <th scope="col">Progress</th>
              <th scope="col">Bank files</th>
            </tr>
          </thead>
          <tbody>
            ${batches.map(
              (batch) =>
                html`<tr>
                  <td data-label="Started">
                    <span class="cell"
                      >${when(batch.createdAt)}<br /><code class="hint"
                        >${batch.batchId}</code
                      ></span
                    >
                  </td>
                  <td data-label="State">${stateNames[batch.state]}</td>
                  <td data-label="Payouts" class="amount">${batch.count}</td>
                  <td data-label="Total" class="amount">${showAmount(batch.total)}</td>
                  <td data-label="Progress">${this.renderProgress(batch)}</td>
                  <td data-label="Bank files">
                    ${
                      batch.files === null
                        ? '–'
                        : html`<a href=${batch.files.xml} download
                              >pain.001 XML<span class="visually-hidden">
                                of batch ${batch.batchId}</span
                              ></a
                            >
                            ·
                            <a href=${batch.files.csv} download
                              >CSV<span class="visually-hidden"> of batch ${batch.batchId}</span></a
                            >`
                    }
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${moreButton(this.batches, 'Show older batches', () => void this.more())}`;
  }
}

customElements.define('mite-payouts-page', PayoutsPage);
