/**
 * Which card processor takes top-ups. A real server takes none until one is configured: the
 * sandbox (fake money, published test cards) runs only when asked for, by `mite demo`, by
 * `mite serve --sandbox-funding` or by `MITE_FUNDING_PROVIDER=sandbox`.
 */
import { sandboxFeeDefaults } from './sandbox-provider.ts';
import { microsPerCent, type StripeOptions } from './stripe-provider.ts';

export type FundingConfig =
  | { readonly provider: 'none' }
  | {
      readonly provider: 'sandbox';
      /** How long the sandbox takes to confirm a card that confirms later. */
      readonly confirmDelayMs?: number;
    }
  | ({ readonly provider: 'stripe' } & StripeOptions);

export type FundingProviderName = FundingConfig['provider'];

/** Thrown for a configuration that cannot be right; the server refuses to start. */
export class FundingConfigError extends Error {
  override readonly name = 'FundingConfigError';
}

/** Stripe's standard US card pricing, 2.9% + 30 cents, unless the operator says otherwise. */
const stripeFeeDefaults = sandboxFeeDefaults;

function nonNegativeInteger(env: Readonly<Record<string, string | undefined>>, name: string) {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  if (!/^[0-9]{1,6}$/.test(text)) throw new FundingConfigError(`${name} must be a whole number`);
  return Number(text);
}

function stripeFromEnv(env: Readonly<Record<string, string | undefined>>): FundingConfig {
  const secretKey = env.MITE_STRIPE_SECRET_KEY ?? '';
  const webhookSecret = env.MITE_STRIPE_WEBHOOK_SECRET ?? '';
  if (!/^(sk|rk)_(test|live)_[A-Za-z0-9]+$/.test(secretKey)) {
    throw new FundingConfigError('MITE_STRIPE_SECRET_KEY must be a Stripe secret key (sk_...)');
  }
  if (!webhookSecret.startsWith('whsec_')) {
    throw new FundingConfigError('MITE_STRIPE_WEBHOOK_SECRET must be a signing secret (whsec_...)');
  }
  const apiBaseUrl = env.MITE_STRIPE_API_URL;
  if (apiBaseUrl !== undefined && apiBaseUrl !== '' && !URL.canParse(apiBaseUrl)) {
    throw new FundingConfigError('MITE_STRIPE_API_URL must be a URL');
  }
  const feeBasisPoints = nonNegativeInteger(env, 'MITE_STRIPE_FEE_BASIS_POINTS');
  const feeFixedCents = nonNegativeInteger(env, 'MITE_STRIPE_FEE_FIXED_CENTS');
  return {
    provider: 'stripe',
    secretKey,
    webhookSecret,
    ...(apiBaseUrl === undefined || apiBaseUrl === '' ? {} : { apiBaseUrl }),
    fee: {
      feeBasisPoints: feeBasisPoints ?? stripeFeeDefaults.feeBasisPoints,
      feeFixedMicros:
        feeFixedCents === undefined
          ? stripeFeeDefaults.feeFixedMicros
          : BigInt(feeFixedCents) * microsPerCent,
    },
  };
}

/**
 * The processor from the environment: `MITE_FUNDING_PROVIDER` (`none`, `sandbox` or `stripe`);
 * unset, Stripe when `MITE_STRIPE_SECRET_KEY` is set, else none.
 */
export function fundingConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): FundingConfig {
  const chosen = env.MITE_FUNDING_PROVIDER ?? '';
  switch (chosen) {
    case 'none':
      return { provider: 'none' };
    case 'sandbox':
      return { provider: 'sandbox' };
    case 'stripe':
      return stripeFromEnv(env);
    case '':
      return (env.MITE_STRIPE_SECRET_KEY ?? '') === '' ? { provider: 'none' } : stripeFromEnv(env);
    default:
      throw new FundingConfigError('MITE_FUNDING_PROVIDER must be none, sandbox or stripe');
  }
}
