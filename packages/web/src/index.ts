export { buildWeb, pageEntries, webDistDir, webSourceDir } from './build.ts';
