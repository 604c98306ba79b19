/**
 * This browser's device id, sent to the platform as `Mite-Device` with the wallet's and the
 * payment window's calls: the platform's risk rules count payments, top-ups and withdrawals by
 * device as well as by account. A random id made once and kept in the platform origin's
 * localStorage, so it says nothing of the person and the same browser keeps it; where storage is
 * off, one made for the page's life.
 */

/** Where the id is kept. */
const deviceIdKey = 'mite.device-id';

/** The header the platform reads it from. */
export const deviceHeader = 'mite-device';

let pageDeviceId: string | undefined;

/** Ids the platform takes: 1 to 64 characters A-Z, a-z, 0-9, _ and - (a UUID is one). */
const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

export function deviceId(): string {
  try {
    const kept = localStorage.getItem(deviceIdKey);
    if (kept !== null && deviceIdPattern.test(kept)) return kept;
    const made = crypto.randomUUID();
    localStorage.setItem(deviceIdKey, made);
    return made;
  } catch {
    // Storage is off (a privacy setting): an id for this page alone.
    pageDeviceId ??= crypto.randomUUID();
    return pageDeviceId;
  }
}
