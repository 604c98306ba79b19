/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time,
 * and self time per source area. `node --import tsx bench/src/cpuprofile-summary.ts FILE [TOP]`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

/** Where a frame's code lives, coarsely: the ledger's files, a dependency, node itself. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const ledger = /packages\/ledger\/src\/([^/]+)\.ts/.exec(url);
  if (ledger !== null) return `ledger/${ledger[1]}`;
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency !== null) return dependency[1] ?? 'node_modules';
  if (url.includes('/bench/src/')) return 'bench';
  if (url.startsWith('node:')) return 'node';
  return url;
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\/.*?\/(packages|bench|node_modules)\//, '$1/');
}

export function summarise(profile: CpuProfile): { bySelf: SelfTime[]; byArea: SelfTime[] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  const total = profile.endTime - profile.startTime;
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const name = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const area = areaOf(frame.url, frame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const sorted = (map: Map<string, number>) =>
    [...map]
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }))
      .sort((a, b) => b.ms - a.ms);
  return { bySelf: sorted(functions), byArea: sorted(areas) };
}

function main(argv: readonly string[]): void {
  const [file, topText] = argv;
  if (file === undefined) {
    console.error('usage: node --import tsx bench/src/cpuprofile-summary.ts FILE.cpuprofile [TOP]');
    process.exitCode = 2;
    return;
  }
  const top = Number(topText ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const { bySelf, byArea } = summarise(profile);
  const line = (entry: SelfTime) =>
    `${entry.ms.toFixed(0).padStart(8)} ms ${(entry.share * 100).toFixed(1).padStart(5)}%  ${entry.name}`;
  console.log(`profile: ${((profile.endTime - profile.startTime) / 1e6).toFixed(2)} s`);
  console.log('\nself time by area:');
  for (const entry of byArea.slice(0, top)) console.log(line(entry));
  console.log(`\ntop ${top} functions by self time:`);
  for (const entry of bySelf.slice(0, top)) console.log(line(entry));
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
