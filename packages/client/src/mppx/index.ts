/**
 * @mite/client/mppx: the `mite` payment method for clients of the `mppx` SDK. A subpath of its
 * own, so that users of `createMiteFetch` never load mppx (an optional peer dependency).
 */
export {
  mite,
  miteChallengeOf,
  miteCharge,
  type MiteMethodOptions,
  type MiteMppxMethod,
  miteRequestContext,
  miteSiteOf,
} from './mite-method.ts';
