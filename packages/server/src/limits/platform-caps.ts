/**
 * The platform's monthly caps per user (issue 15, DESIGN.md section 8), from configuration: one per
 * spending category, a lower one for goods that resell easily, and a lower one for minors, which
 * applies to each category and to resellable goods. Korean carrier billing files caps like these
 * in its terms (up to 1,000,000 KRW a month for each of two categories); a deployment sets its own
 * in its currency, and the defaults below are the platform's until it does.
 */
import { parseAmount } from '@mite/protocol';
import type { SpendingCategory } from './limit-profile.ts';

export interface PlatformCaps {
  /** Each category's monthly cap per user, in micro-units. */
  readonly categoryMonthlyMicros: Readonly<Record<SpendingCategory, bigint>>;
  /** The monthly cap per user on resellable goods (gift cards, game currency, transit top-ups). */
  readonly resellableMonthlyMicros: bigint;
  /** A minor's monthly cap, for each category and for resellable goods. */
  readonly minorMonthlyMicros: bigint;
}

const units = 1_000_000n;

/** 500 units a month for each category: the bill nobody expected is bounded by default. */
export const categoryMonthlyCapDefaultMicros = 500n * units;
/** 100 units a month on resellable goods, where cash-out brokers work. */
export const resellableMonthlyCapDefaultMicros = 100n * units;
/** 50 units a month for a minor, in each category. */
export const minorMonthlyCapDefaultMicros = 50n * units;

export const platformCapsDefault: PlatformCaps = Object.freeze({
  categoryMonthlyMicros: Object.freeze({
    content: categoryMonthlyCapDefaultMicros,
    goods: categoryMonthlyCapDefaultMicros,
  }),
  resellableMonthlyMicros: resellableMonthlyCapDefaultMicros,
  minorMonthlyMicros: minorMonthlyCapDefaultMicros,
});

/** The variables, each an amount in units ("500", "99.50"); an invalid one stops the start. */
export const platformCapVariables = {
  content: 'MITE_MONTHLY_CAP_CONTENT',
  goods: 'MITE_MONTHLY_CAP_GOODS',
  resellable: 'MITE_MONTHLY_CAP_RESELLABLE',
  minor: 'MITE_MONTHLY_CAP_MINOR',
} as const;

function capFrom(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: bigint,
): bigint {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const parsed = parseAmount(text);
  if (!parsed.ok) throw new Error(`${name} is an amount in units, like "500": ${parsed.detail}`);
  return parsed.value;
}

export function platformCapsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): PlatformCaps {
  const defaults = platformCapsDefault;
  return {
    categoryMonthlyMicros: {
      content: capFrom(env, platformCapVariables.content, defaults.categoryMonthlyMicros.content),
      goods: capFrom(env, platformCapVariables.goods, defaults.categoryMonthlyMicros.goods),
    },
    resellableMonthlyMicros: capFrom(
      env,
      platformCapVariables.resellable,
      defaults.resellableMonthlyMicros,
    ),
    minorMonthlyMicros: capFrom(env, platformCapVariables.minor, defaults.minorMonthlyMicros),
  };
}
