/**
 * The API's documentation page, rendered on the server from the OpenAPI document: every
 * operation with who may call it, its parameters, request body and responses, schemas shown as
 * nested property lists. Plain HTML: no script, no CDN.
 */
import { escapeHtml, htmlPage } from './html.ts';
import { problemCodes, problemTable, problemType } from './problems.ts';

type JsonObject = Record<string, unknown>;

const httpMethods = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Schemas nested deeper than this are cut: a recursive schema must not recurse forever. */
const schemaDepthMax = 8;

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(value: unknown, key: string): JsonObject {
  const child = isJsonObject(value) ? value[key] : undefined;
  return isJsonObject(child) ? child : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function code(value: string): string {
  return `<code>${escapeHtml(value)}</code>`;
}

const componentPrefix = '#/components/schemas/';

/** The component a schema refers to (`$ref`), if it does. */
function componentName(schema: JsonObject): string | undefined {
  const ref = text(schema.$ref);
  return ref.startsWith(componentPrefix) ? ref.slice(componentPrefix.length) : undefined;
}

const constraintKeywords = [
  'format',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'default',
] as const;

function typeLabel(schema: JsonObject): string {
  if ('const' in schema) return `= ${JSON.stringify(schema.const)}`;
  if (Array.isArray(schema.enum)) {
    return `one of ${schema.enum.map((value) => JSON.stringify(value)).join(', ')}`;
  }
  if (Array.isArray(schema.type)) return schema.type.join(' | ');
  if (typeof schema.type === 'string') return schema.type;
  if (Array.isArray(schema.anyOf) || Array.isArray(schema.oneOf)) return 'one of';
  if (Array.isArray(schema.allOf)) return 'all of';
  return 'any';
}

function constraintsLabel(schema: JsonObject): string {
  return (
    constraintKeywords
      .filter((keyword) => schema[keyword] !== undefined)
      // zod's int() bounds every integer to the safe range: noise on the page.
      .filter((keyword) => Math.abs(Number(schema[keyword])) !== Number.MAX_SAFE_INTEGER)
      .map((keyword) => `${keyword} ${JSON.stringify(schema[keyword])}`)
      .join(', ')
  );
}

function schemaLine(label: string, schema: JsonObject): string {
  const constraints = constraintsLabel(schema);
  const description = text(schema.description);
  return [
    `<span class="type">${label}</span>`,
    constraints === '' ? '' : ` <span class="constraints">${escapeHtml(constraints)}</span>`,
    description === '' ? '' : ` — ${escapeHtml(description)}`,
  ].join('');
}

function componentLink(name: string): string {
  return `<a href="#schema-${escapeHtml(name)}">${code(name)}</a>`;
}

function propertiesHtml(schema: JsonObject, document: JsonObject, depth: number): string {
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const items = Object.entries(objectAt(schema, 'properties')).map(([name, property]) => {
    const mark = required.has(name) ? ' <span class="required">required</span>' : '';
    return `<li>${code(name)}${mark}: ${schemaHtml(property, document, depth + 1)}</li>`;
  });
  return items.length === 0 ? '' : `<ul class="schema">${items.join('')}</ul>`;
}

function variantsHtml(schema: JsonObject, document: JsonObject, depth: number): string {
  const variants = [schema.anyOf, schema.oneOf, schema.allOf].find(Array.isArray) ?? [];
  if (variants.length === 0) return '';
  const items = variants.map((variant) => `<li>${schemaHtml(variant, document, depth + 1)}</li>`);
  return `<ul class="schema">${items.join('')}</ul>`;
}

/**
 * A schema as a line and, below it, its properties or variants; an array shows its items'. A
 * named component is linked, not expanded: it is shown once, in the Schemas section.
 */
export function schemaHtml(value: unknown, document: JsonObject, depth = 0): string {
  if (!isJsonObject(value)) return '<span class="type">any</span>';
  const refName = componentName(value);
  if (refName !== undefined) return componentLink(refName);
  if (depth >= schemaDepthMax) return `${schemaLine(escapeHtml(typeLabel(value)), value)} …`;
  if (!isJsonObject(value.items)) {
    const line = schemaLine(escapeHtml(typeLabel(value)), value);
    return line + propertiesHtml(value, document, depth) + variantsHtml(value, document, depth);
  }
  const items = value.items;
  const itemsName = componentName(items);
  const itemsLabel =
    itemsName === undefined ? escapeHtml(typeLabel(items)) : componentLink(itemsName);
  const line = schemaLine(`array of ${itemsLabel}`, value);
  if (itemsName !== undefined) return line;
  return line + propertiesHtml(items, document, depth) + variantsHtml(items, document, depth);
}

function componentsHtml(document: JsonObject): string {
  const schemas = Object.entries(objectAt(objectAt(document, 'components'), 'schemas'));
  if (schemas.length === 0) return '';
  const items = schemas.map(
    ([name, schema]) =>
      `<li id="schema-${escapeHtml(name)}">${code(name)}: ${schemaHtml(schema, document, 1)}</li>`,
  );
  return `<h2 id="schemas">Schemas</h2><ul>${items.join('')}</ul>`;
}

function parameterRow(parameter: JsonObject, document: JsonObject): string {
  const required = parameter.required === true ? 'yes' : '';
  const description = text(parameter.description);
  const cells = [
    code(text(parameter.name)),
    escapeHtml(text(parameter.in)),
    required,
    schemaHtml(parameter.schema, document) +
      (description === '' ? '' : ` — ${escapeHtml(description)}`),
  ];
  return `<tr>${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`;
}

function parametersHtml(operation: JsonObject, document: JsonObject): string {
  const parameters = Array.isArray(operation.parameters) ? operation.parameters : [];
  const rows = parameters
    .filter(isJsonObject)
    .map((parameter) => parameterRow(parameter, document));
  if (rows.length === 0) return '';
  const head = '<tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr>';
  return `<h4>Parameters</h4><table>${head}${rows.join('')}</table>`;
}

function contentHtml(content: JsonObject, document: JsonObject): string {
  return Object.entries(content)
    .map(([mediaType, media]) => {
      return `<div>${code(mediaType)}: ${schemaHtml(objectAt(media, 'schema'), document)}</div>`;
    })
    .join('');
}

function requestBodyHtml(operation: JsonObject, document: JsonObject): string {
  const content = objectAt(objectAt(operation, 'requestBody'), 'content');
  if (Object.keys(content).length === 0) return '';
  return `<h4>Request body</h4>${contentHtml(content, document)}`;
}

function responsesHtml(operation: JsonObject, document: JsonObject): string {
  const items = Object.entries(objectAt(operation, 'responses')).map(([status, response]) => {
    const description = text(isJsonObject(response) ? response.description : undefined);
    const content = contentHtml(objectAt(response, 'content'), document);
    return `<li><strong>${escapeHtml(status)}</strong> ${escapeHtml(description)}${content}</li>`;
  });
  return `<h4>Responses</h4><ul>${items.join('')}</ul>`;
}

function authLabel(operation: JsonObject): string {
  const auth = operation['x-mite-auth'];
  if (auth === 'public' || auth === undefined) return '<span class="badge">public</span>';
  if (!isJsonObject(auth)) return '';
  const kinds = Array.isArray(auth.kinds) ? auth.kinds.join(', ') : '';
  const scopes = Array.isArray(auth.scopes) ? ` · scopes ${auth.scopes.join(', ')}` : '';
  return `<span class="badge">${escapeHtml(kinds + scopes)}</span>`;
}

export function operationAnchor(method: string, path: string): string {
  return `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function paragraph(content: string, strong = false): string {
  if (content === '') return '';
  return strong
    ? `<p><strong>${escapeHtml(content)}</strong></p>`
    : `<p>${escapeHtml(content)}</p>`;
}

function operationHtml(method: string, path: string, operation: JsonObject, document: JsonObject) {
  const idempotent =
    operation['x-mite-idempotent'] === true ? '<span class="badge">Idempotency-Key</span>' : '';
  const methodLabel = `<span class="method method-${method}">${method.toUpperCase()}</span>`;
  return [
    `<section class="operation" id="${operationAnchor(method, path)}">`,
    `<h3>${methodLabel} ${code(path)} ${authLabel(operation)}${idempotent}</h3>`,
    paragraph(text(operation.summary), true),
    paragraph(text(operation.description)),
    parametersHtml(operation, document),
    requestBodyHtml(operation, document),
    responsesHtml(operation, document),
    '</section>',
  ].join('\n');
}

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly operation: JsonObject;
}

function operationsOf(document: JsonObject): Operation[] {
  return Object.entries(objectAt(document, 'paths')).flatMap(([path, item]) =>
    httpMethods
      .filter((method) => isJsonObject(item) && isJsonObject(item[method]))
      .map((method) => ({ method, path, operation: objectAt(item, method) })),
  );
}

function problemsHtml(): string {
  const items = problemCodes.map((problemCode) => {
    const { status, title } = problemTable[problemCode];
    const link = `<a href="${escapeHtml(problemType(problemCode))}">${code(problemCode)}</a>`;
    return `<li>${link} ${status} — ${escapeHtml(title)}</li>`;
  });
  const intro = `Every error is ${code('application/problem+json')}, its ${code('type')} one of:`;
  return `<h2 id="problems">Problem types</h2><p>${intro}</p><ul>${items.join('')}</ul>`;
}

function contentsHtml(operations: readonly Operation[]): string {
  const items = operations.map(({ method, path }) => {
    const label = `${method.toUpperCase()} ${escapeHtml(path)}`;
    return `<li><a href="#${operationAnchor(method, path)}">${label}</a></li>`;
  });
  return `<h2>Operations</h2><ul>${items.join('')}</ul>`;
}

export function renderDocsPage(document: JsonObject): string {
  const info = objectAt(document, 'info');
  const title = text(info.title) || 'API';
  const operations = operationsOf(document);
  const links = [
    `Version ${escapeHtml(text(info.version))}`,
    '<a href="/v1/openapi.json">OpenAPI document</a>',
    '<a href="#problems">problem types</a>',
  ];
  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    `<p>${links.join(' · ')}</p>`,
    paragraph(text(info.description)),
    contentsHtml(operations),
    ...operations.map(({ method, path, operation }) =>
      operationHtml(method, path, operation, document),
    ),
    componentsHtml(document),
    problemsHtml(),
  ];
  return htmlPage(title, body.join('\n'));
}
