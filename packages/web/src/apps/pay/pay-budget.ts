/**
 * The payment window's reads for the budget: the user's stored budget, and what the user already
 * paid, read page by page from the newest purchase back (pay-checks.ts does the arithmetic).
 * Every failure here refuses the payment: a budget that cannot be checked is not a budget of none.
 */
import { callApi, describeProblem } from '../shared/api.ts';
import {
  addPurchases,
  checkPerPayment,
  checkSpent,
  type Checked,
  type ListedPurchase,
  nothingSpent,
  type PayBudget,
  payBudgetOf,
  type Spent,
  utcDayStartMs,
} from './pay-checks.ts';

/** Purchases read per call: the API's largest page. */
export const purchasesPageSize = 100;
/**
 * The most pages of purchases read to add up the total (2,000 purchases). A user with more
 * purchases than that and under every limit is refused with the reason, rather than left waiting
 * on an unbounded read.
 */
export const purchasesPagesMax = 20;

interface PurchasesPage {
  readonly items: readonly ListedPurchase[];
  readonly nextCursor: string | null;
}

function refusal(reason: string): { readonly ok: false; readonly reason: string } {
  return { ok: false, reason };
}

/** The user's budget, from the platform (its defaults while the user saved none). */
export async function readPayBudget(): Promise<Checked<PayBudget>> {
  const answer = await callApi<unknown>('GET', '/v1/wallet/budget');
  if (!answer.ok)
    return refusal(`your budget could not be read: ${describeProblem(answer.problem)}`);
  const budget = payBudgetOf(answer.value);
  if (budget === undefined) return refusal('your budget could not be read.');
  return { ok: true, value: budget };
}

/**
 * What the user paid the asking site today and in all since the budget was saved, read until the
 * list ends, until its purchases are older than both, or until a limit is already passed (more
 * pages only add to it).
 */
async function readSpent(
  amountMicros: bigint,
  context: { readonly askingOrigin: string; readonly budget: PayBudget; readonly nowMs: number },
): Promise<Checked<Spent>> {
  const dayStartMs = utcDayStartMs(context.nowMs);
  let spent = nothingSpent;
  let cursor: string | null = null;
  for (let pages = 0; pages < purchasesPagesMax; pages += 1) {
    const query = new URLSearchParams({ limit: String(purchasesPageSize) });
    if (cursor !== null) query.set('cursor', cursor);
    const page = await callApi<PurchasesPage>('GET', `/v1/wallet/purchases?${query}`);
    if (!page.ok) {
      return refusal(`your purchases could not be read: ${describeProblem(page.problem)}`);
    }
    const { totalSinceMs } = context.budget;
    const added = addPurchases(spent, page.value.items, { ...context, dayStartMs, totalSinceMs });
    if (added === undefined) return refusal('your purchases could not be read.');
    spent = added;
    cursor = page.value.nextCursor;
    // Newest first: past a purchase older than both the day and the budget, none counts.
    const oldest = page.value.items.at(-1);
    const pastBoth =
      oldest !== undefined && Date.parse(oldest.at) < Math.min(dayStartMs, totalSinceMs);
    if (cursor === null || pastBoth || !checkSpent(amountMicros, spent, context).ok) {
      return { ok: true, value: spent };
    }
  }
  return refusal(
    `you have made more than ${purchasesPageSize * purchasesPagesMax} purchases, too many for ` +
      'this window to add up against your total limit.',
  );
}

/**
 * The budget's verdict on paying `amountMicros` at the asking site: refused with the reason, or
 * allowed, with whether the person confirms the price once more first.
 */
export async function checkBudget(
  amountMicros: bigint,
  context: { readonly askingOrigin: string; readonly nowMs: number },
): Promise<Checked<{ readonly askFirst: boolean; readonly budget: PayBudget }>> {
  const budget = await readPayBudget();
  if (!budget.ok) return budget;
  const perPayment = checkPerPayment(amountMicros, budget.value);
  if (!perPayment.ok) return perPayment;
  const spent = await readSpent(amountMicros, { ...context, budget: budget.value });
  if (!spent.ok) return spent;
  const overTime = checkSpent(amountMicros, spent.value, { ...context, budget: budget.value });
  if (!overTime.ok) return overTime;
  return { ok: true, value: { askFirst: perPayment.value.askFirst, budget: budget.value } };
}
