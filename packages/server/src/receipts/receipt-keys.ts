import {
  generateKeyPairSync,
  type KeyObject,
  createPrivateKey,
  createPublicKey,
} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export const receiptKeyFileName = 'receipt-signing-key.pem';

export interface ReceiptKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
}

/** The environment variable that may hold the receipt-signing key (PKCS#8 PEM). */
export const receiptKeyEnvName = 'MITE_RECEIPT_SIGNING_KEY';

/**
 * The platform's Ed25519 key for signing receipts. Merchants verify receipts offline with the
 * public half, published as a JWKS; the key id is the key's RFC 7638 thumbprint, so it names the
 * key itself. From `MITE_RECEIPT_SIGNING_KEY` when set (every node of a platform on separate
 * machines must sign with the same key), else kept in the data directory (owner-only), created
 * on first start.
 */
export async function loadReceiptKey(
  dataDir: string,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<ReceiptKey> {
  const fromEnv = env[receiptKeyEnvName];
  if (fromEnv !== undefined && fromEnv !== '') {
    let key: KeyObject;
    try {
      key = createPrivateKey(fromEnv);
    } catch {
      // Never echo the value: it is a private key.
      throw new Error(`${receiptKeyEnvName} is not a PEM private key`);
    }
    return receiptKeyFrom(key);
  }
  const file = path.join(dataDir, receiptKeyFileName);
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const { privateKey } = generateKeyPairSync('ed25519');
    fs.mkdirSync(dataDir, { recursive: true });
    try {
      fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        mode: 0o600,
        flag: 'wx',
      });
    } catch (writeError) {
      if ((writeError as NodeJS.ErrnoException).code !== 'EEXIST') throw writeError;
    }
    pem = fs.readFileSync(file, 'utf8');
  }
  return receiptKeyFrom(createPrivateKey(pem));
}

export async function receiptKeyFrom(privateKey: KeyObject): Promise<ReceiptKey> {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('receipt keys are Ed25519');
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicJwk: { ...jwk, kid, alg: 'EdDSA', use: 'sig' } };
}

/** The JWKS that `GET /v1/keys` serves. */
export function receiptJwks(keys: readonly ReceiptKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => key.publicJwk) };
}
