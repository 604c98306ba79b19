export {
  buildWeb,
  meterFileName,
  pageEntries,
  paywallFileName,
  webDistDir,
  webSourceDir,
} from './build.ts';
