export { buildWeb, pageEntries, paywallFileName, webDistDir, webSourceDir } from './build.ts';
