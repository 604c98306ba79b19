/**
 * The scopes a user may put a limit on (LimitScope in limit-profile.ts), as they travel in a URL
 * and are stored: the fixed ones by name, one merchant's as `merchant:<merchant id>`.
 */
import { type LimitScope, spendingCategories } from './limit-profile.ts';

/** Every scope but the per-merchant ones, in the order the wallet lists them. */
export const fixedLimitScopes = [
  ...spendingCategories,
  'resellable',
  'perPayment',
  'topUpMonthly',
] as const satisfies readonly LimitScope[];

const merchantScopePrefix = 'merchant:';
/** A merchant id is a uuid or a short test id: nothing longer than this is one. */
const merchantIdLengthMax = 64;

/**
 * The largest limit a user may set, in micro-units (1,000,000.00). A limit only ever lowers what
 * the platform allows, so the bound is there to catch a typing mistake, not to protect anyone.
 */
export const userLimitMicrosMax = 1_000_000_000_000n;

/** The scope a stored or requested text names, or undefined when it names none. */
export function parseLimitScope(text: string): LimitScope | undefined {
  if ((fixedLimitScopes as readonly string[]).includes(text)) return text as LimitScope;
  if (!text.startsWith(merchantScopePrefix)) return undefined;
  const merchantId = text.slice(merchantScopePrefix.length);
  if (merchantId === '' || merchantId.length > merchantIdLengthMax) return undefined;
  if (!/^[A-Za-z0-9_-]+$/.test(merchantId)) return undefined;
  return `merchant:${merchantId}`;
}

/** The merchant a per-merchant scope names, else undefined. */
export function merchantOfScope(scope: LimitScope): string | undefined {
  return scope.startsWith(merchantScopePrefix)
    ? scope.slice(merchantScopePrefix.length)
    : undefined;
}
