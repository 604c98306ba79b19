/**
 * The outcome of an operation that can fail in an expected way (an unknown offer, insufficient
 * funds, an email already taken). Services return these and throw only for bugs and broken
 * infrastructure, so that an expected failure is part of the signature and the HTTP layer maps
 * its code to a problem type without catching anything. The type is the protocol package's, which
 * the middleware and the client use too; the server's modules import it from here.
 */
export {
  type ExplainedFailure,
  fail,
  type Failure,
  ok,
  type Result,
  type Success,
} from '@mite/protocol';
