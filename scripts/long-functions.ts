/**
 * Lists the functions longer than a number of lines (70 by default) in the shipped sources of
 * packages/*\/src (tests and test helpers aside), longest first.
 *
 *   node --import tsx scripts/long-functions.ts [MAX_LINES] [PATH_FILTER...]
 *
 * A function's length is its own lines: those of functions declared inside it (a factory's
 * services, a named helper) are counted for them, not for it; callbacks passed inline count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const [maxArg, ...filters] = process.argv.slice(2);
const maxLines = Number(maxArg ?? 70);

function sources(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'testing') sources(path, found);
    } else if (
      entry.name.endsWith('.ts') &&
      !/\.test\.ts$|testing\.ts$|test-.*\.ts$/.test(entry.name)
    ) {
      found.push(path);
    }
  }
  return found;
}

/** A function that is named where it is declared: its lines are its own, not its parent's. */
function isNamedFunction(node: ts.Node): node is ts.FunctionLikeDeclaration {
  if (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node)
  )
    return true;
  if (ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node)) return true;
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
    const parent = node.parent;
    return (
      ts.isVariableDeclaration(parent) ||
      ts.isPropertyAssignment(parent) ||
      ts.isPropertyDeclaration(parent)
    );
  }
  return false;
}

function nameOf(node: ts.FunctionLikeDeclaration): string {
  if (node.name !== undefined) return node.name.getText();
  const parent = node.parent;
  if (
    ts.isVariableDeclaration(parent) ||
    ts.isPropertyAssignment(parent) ||
    ts.isPropertyDeclaration(parent)
  ) {
    return parent.name.getText();
  }
  return ts.isConstructorDeclaration(node) ? 'constructor' : '(anonymous)';
}

const found: { file: string; line: number; name: string; own: number; span: number }[] = [];
const packagesDir = join(root, 'packages');
for (const pkg of readdirSync(packagesDir)) {
  let files: string[];
  try {
    files = sources(join(packagesDir, pkg, 'src'));
  } catch {
    continue;
  }
  for (const file of files) {
    const rel = relative(root, file);
    if (filters.length > 0 && !filters.some((filter) => rel.includes(filter))) continue;
    const source = ts.createSourceFile(
      file,
      readFileSync(file, 'utf8'),
      ts.ScriptTarget.Latest,
      true,
    );
    const lineOf = (pos: number) => source.getLineAndCharacterOfPosition(pos).line;
    const visit = (node: ts.Node) => {
      if (isNamedFunction(node) && node.body !== undefined) {
        const span = lineOf(node.getEnd()) - lineOf(node.getStart()) + 1;
        let nested = 0;
        const subtract = (inner: ts.Node) => {
          if (isNamedFunction(inner) && inner.body !== undefined) {
            nested += lineOf(inner.getEnd()) - lineOf(inner.getStart()) + 1;
            return;
          }
          ts.forEachChild(inner, subtract);
        };
        ts.forEachChild(node.body, subtract);
        const own = span - nested;
        if (own > maxLines) {
          found.push({
            file: rel,
            line: lineOf(node.getStart()) + 1,
            name: nameOf(node),
            own,
            span,
          });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
}
found.sort((a, b) => b.own - a.own);
for (const f of found)
  console.log(`${String(f.own).padStart(4)} own (${f.span} span)  ${f.file}:${f.line}  ${f.name}`);
console.log(`${found.length} functions over ${maxLines} own lines`);
