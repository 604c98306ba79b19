/**
 * `GET /v1/problems/<kebab-code>`: what a problem `type` URI dereferences to, a short page about
 * the problem (HTML, or JSON when `Accept` prefers it).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { escapeHtml, htmlPage, prefersJson, sendHtml } from './html.ts';
import {
  type ProblemCode,
  problemCodeFromSlug,
  problemTable,
  problemType,
  problemTypePrefix,
  sendProblem,
} from './problems.ts';

const problemPageSchema = z.object({
  type: z.string(),
  code: z.string(),
  status: z.number().int(),
  title: z.string(),
  description: z.string(),
});

function problemPageHtml(code: ProblemCode): string {
  const { status, title, description } = problemTable[code];
  const body = `<h1>${escapeHtml(title)}</h1>
<p>HTTP status <strong>${status}</strong> · code <code>${escapeHtml(code)}</code> · type <code>${escapeHtml(problemType(code))}</code></p>
<p>${escapeHtml(description)}</p>
<p>Errors are <code>application/problem+json</code> bodies (RFC 9457). <a href="/v1/docs">All problem types</a> are listed in the API docs.</p>`;
  return htmlPage(title, body);
}

export function problemPagesPlugin(api: FastifyInstance): void {
  api.withTypeProvider<ZodTypeProvider>().get(
    `${problemTypePrefix}:slug`,
    {
      schema: {
        summary: 'Describe a problem type',
        tags: ['problems'],
        params: z.object({ slug: z.string().max(64) }),
        response: {
          200: {
            description: 'The problem type',
            content: {
              'application/json': { schema: problemPageSchema },
              'text/html': { schema: z.string() },
            },
          },
        },
      },
      config: { auth: 'public' },
    },
    async (request, reply) => {
      const code = problemCodeFromSlug(request.params.slug);
      if (code === undefined) return sendProblem(reply, 'notFound', 'No such problem type.');
      if (!prefersJson(request.headers.accept)) return sendHtml(reply, problemPageHtml(code));
      const { status, title, description } = problemTable[code];
      reply.type('application/json; charset=utf-8');
      return { type: problemType(code), code, status, title, description };
    },
  );
}
