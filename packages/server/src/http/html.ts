/**
 * The few HTML pages the API serves (docs, problem types) are rendered here, on the server, with
 * no script and no external resource, under a Content-Security-Policy that allows none.
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
h1 { margin-bottom: 0; } h2 { border-bottom: 1px solid #ddd; margin-top: 2.5rem; }
section.operation { border: 1px solid #ddd; border-radius: 6px; margin: 1rem 0; padding: 0 1rem 0.5rem; }
.method { display: inline-block; min-width: 4.5rem; font-weight: 600; color: #fff; background: #555; border-radius: 4px; padding: 0 0.4rem; text-align: center; }
.method-get { background: #1f6feb; } .method-post { background: #1a7f37; } .method-put, .method-patch { background: #9a6700; } .method-delete { background: #cf222e; }
.badge { font-size: 12px; border: 1px solid #999; border-radius: 3px; padding: 0 0.3rem; margin-left: 0.3rem; }
.type { color: #6e40c9; } .constraints { color: #57606a; font-size: 13px; } .required { color: #cf222e; font-size: 12px; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
ul.schema { margin: 0.2rem 0; padding-left: 1.2rem; }
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
