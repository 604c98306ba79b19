export {
  type DemoCredentials,
  type DemoOffer,
  demoGameShopName,
  demoRadioName,
  demoTipJar,
  seedDemo,
} from './demo/seed-demo.ts';
export { createPlatform, type Platform, type PlatformOptions, storeUrls } from './platform.ts';
export { noRiskRules, type RuleSetInput } from './risk/rule-set.ts';
export { firstOperatorEmailDefault } from './staff/operator-people.ts';
