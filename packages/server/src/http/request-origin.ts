/**
 * Where a request came from (policy.ts RequestOrigin), which risk rules count by: the client's
 * address as Fastify reads it (`request.ip`, which honours the platform's trustProxy, so behind a
 * trusted proxy it is the client's and not the proxy's), and the device the wallet or the client
 * SDK names in the `Mite-Device` header: a stable random id each keeps for itself.
 *
 * The device id is the client's word, so it is only ever counted, never trusted: it is checked
 * for shape (a bounded token) so that nothing else reaches the risk engine's memory.
 */
import type { FastifyRequest } from 'fastify';
import type { RequestOrigin } from '../policy/policy.ts';
import { ProblemError } from './problems.ts';

/** The header, lower-case as Node reads it. */
export const deviceHeader = 'mite-device';

/** The longest device id taken. */
export const deviceIdLengthMax = 64;

const deviceIdPattern = new RegExp(`^[A-Za-z0-9_-]{1,${deviceIdLengthMax}}$`);

/** What the OpenAPI document says of the header, on the routes that read it. */
export const deviceHeaderDescription =
  `A \`Mite-Device\` header names the client\u2019s device (a stable random id of at most ` +
  `${deviceIdLengthMax} characters A-Z, a-z, 0-9, _ and -), which risk rules count by; ` +
  'another value is `400 validation-failed`.';

/** Whether a text is a device id as the header takes it. */
export function isDeviceId(text: string): boolean {
  return deviceIdPattern.test(text);
}

/**
 * The request's origin; throws a `validationFailed` problem (which the app answers) when the
 * device header is not a device id, so that a client's bug is told, not silently ignored.
 */
export function requestOrigin(request: FastifyRequest): RequestOrigin {
  const header = request.headers[deviceHeader];
  if (header === undefined) return { ip: request.ip };
  if (typeof header !== 'string' || !isDeviceId(header)) {
    throw new ProblemError(
      'validationFailed',
      `headers/${deviceHeader}: a device id is 1 to ${deviceIdLengthMax} characters of ` +
        'A-Z, a-z, 0-9, _ and -, sent once',
      { issues: [{ in: 'headers', path: `/${deviceHeader}`, message: 'not a device id' }] },
    );
  }
  return { ip: request.ip, deviceId: header };
}
