/**
 * The HTML pages the API renders itself (the problem types' pages) are rendered here, on the
 * server, with no script and no external resource, under a Content-Security-Policy that allows
 * none. The docs page is Swagger UI (openapi.ts).
 */
import type { FastifyReply } from 'fastify';

const htmlEscapes: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => htmlEscapes[character] ?? character);
}

const pageStyle = `
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem 2rem; color: #1d1d1f; }
code, pre { font: 13px/1.4 ui-monospace, monospace; }
h1 { margin-bottom: 0; }
`;

/** A whole page; `bodyHtml` must already be escaped. */
export function htmlPage(title: string, bodyHtml: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${pageStyle}</style></head>
<body>${bodyHtml}</body></html>
`;
}

const htmlSecurityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function sendHtml(reply: FastifyReply, html: string): FastifyReply {
  reply.headers(htmlSecurityHeaders);
  reply.type('text/html; charset=utf-8');
  return reply.send(html);
}

/**
 * Whether the client asked for JSON rather than HTML, from `Accept`: JSON when it names a JSON
 * type with a higher preference (`q`) than HTML, or names JSON and not HTML.
 */
export function prefersJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let jsonQuality = 0;
  let htmlQuality = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...parameters] = range.trim().toLowerCase().split(';');
    const qualityParameter = parameters.find((parameter) => parameter.trim().startsWith('q='));
    const quality = qualityParameter === undefined ? 1 : Number(qualityParameter.split('=')[1]);
    if (Number.isNaN(quality)) continue;
    if (type.endsWith('/json') || type.endsWith('+json'))
      jsonQuality = Math.max(jsonQuality, quality);
    if (type === 'text/html') htmlQuality = Math.max(htmlQuality, quality);
  }
  return jsonQuality > htmlQuality;
}
