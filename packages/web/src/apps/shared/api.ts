/**
 * Calls to the platform's API from its own pages: same origin, so the session cookie (HttpOnly:
 * no script reads it) goes with every call, and the browser's Origin and Sec-Fetch-Site headers
 * tell the platform the call comes from its own pages (its CSRF check). Errors come back as
 * RFC 9457 problem details, whose `detail` the pages show as the server wrote it. Every call
 * names this browser's device (device-id.ts), which the platform's risk rules count by.
 */
import { deviceHeader, deviceId } from './device-id.ts';

/** A refusal, as the server explained it (or as the page explains a network failure). */
export interface Problem {
  readonly status: number;
  readonly title: string;
  readonly detail?: string;
  /** The problem type's slug (`card-declined`), from its `type` URI. */
  readonly slug?: string;
  readonly errors?: readonly { readonly path: string; readonly message: string }[];
  /** A policy's refusal (`policy-challenged`, `policy-blocked`): the decision, to confirm one. */
  readonly decisionId?: string;
}

export type ApiResult<T> =
  | { readonly ok: true; readonly status: number; readonly value: T }
  | { readonly ok: false; readonly problem: Problem };

export interface CallOptions {
  readonly body?: unknown;
  /** For the routes that take one (top-ups): the same key makes a retry safe. */
  readonly idempotencyKey?: string;
  /**
   * Which of the browser's session cookies the call means, where a route takes more than one
   * kind of caller (the console's calls say `operator`, whatever dashboard cookie is also held).
   */
  readonly sessionKind?: 'user' | 'merchant' | 'operator';
  /** The challenged decision the person confirmed, when sending the request again. */
  readonly policyConfirmation?: string;
  /** The call outlives the page (a window closing says its last word with it). */
  readonly keepalive?: boolean;
}

const unreachable: Problem = {
  status: 0,
  title: 'The platform could not be reached',
  detail: 'Check your connection and try again. Nothing was changed by this attempt.',
};

function problemOf(status: number, body: unknown): Problem {
  if (typeof body === 'object' && body !== null && 'title' in body) {
    const fields = body as Record<string, unknown>;
    const type = typeof fields.type === 'string' ? fields.type : '';
    return {
      status,
      title: String(fields.title),
      ...(typeof fields.detail === 'string' ? { detail: fields.detail } : {}),
      ...(type === '' ? {} : { slug: type.slice(type.lastIndexOf('/') + 1) }),
      ...(Array.isArray(fields.errors)
        ? { errors: fields.errors as NonNullable<Problem['errors']> }
        : {}),
      ...(typeof fields.decisionId === 'string' ? { decisionId: fields.decisionId } : {}),
    };
  }
  return { status, title: `The platform answered ${status}` };
}

export async function callApi<T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: CallOptions = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
  if (options.sessionKind !== undefined) headers['mite-session-kind'] = options.sessionKind;
  if (options.policyConfirmation !== undefined) {
    headers['mite-policy-confirmation'] = options.policyConfirmation;
  }
  headers[deviceHeader] = deviceId();
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(options.keepalive === true ? { keepalive: true } : {}),
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  } catch {
    return { ok: false, problem: unreachable };
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): the status alone explains it.
  }
  if (!response.ok) return { ok: false, problem: problemOf(response.status, body) };
  return { ok: true, status: response.status, value: body as T };
}

/** The sentence a page shows for a refusal: the server's detail, else its title. */
export function describeProblem(problem: Problem): string {
  const fieldErrors = (problem.errors ?? []).map((error) => error.message).join('; ');
  const detail = problem.detail ?? fieldErrors;
  return detail === '' ? `${problem.title}.` : `${problem.title}: ${detail}`;
}

/** A challenge the platform's policy put to a request: what the person is told, and its decision. */
export interface PolicyChallenge {
  readonly decisionId: string;
  readonly message: string;
}

/** The challenge in a refusal, when the policy asks the person to confirm; else undefined. */
export function policyChallengeOf(problem: Problem): PolicyChallenge | undefined {
  if (problem.slug !== 'policy-challenged' || problem.decisionId === undefined) return undefined;
  return { decisionId: problem.decisionId, message: problem.detail ?? problem.title };
}

/** Confirms a challenged decision (`POST /v1/policy-decisions/{id}/confirmation`). */
export function confirmPolicyDecision(decisionId: string): Promise<ApiResult<unknown>> {
  return callApi('POST', `/v1/policy-decisions/${encodeURIComponent(decisionId)}/confirmation`);
}
