export { createPlatform, type Platform, type PlatformOptions, storeUrls } from './platform.ts';
