/**
 * The demo's metered site, Mite Radio (issue 16): songs paid by the second and an API paid by the
 * call, behind `@mite/middleware`'s session meter, for one of the demo merchants. A client opens a
 * payment session at the platform for a deposit and pays with cumulative vouchers that the site
 * verifies offline; the site closes the session when a song or a client is done, and the
 * platform settles once, at exactly what was served:
 *
 *   mite pay --stream URL/songs/morning-mites?seconds=10
 *
 * The site keeps its sessions in memory (a restart forgets them; the platform then settles each at
 * the last voucher the site checkpointed, once it is idle), which a demo can afford.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createMemorySessionStore,
  createSessionMeter,
  eventStreamHeaders,
  meteredEventStream,
  type PaidOutcome,
  type SessionPayment,
  withSessionMeter,
} from '@mite/middleware';
import {
  radioPage,
  radioScript,
  radioScriptPath,
  type RadioSong,
  radioStylesheet,
  radioStylesheetPath,
} from './demo-radio-pages.ts';
import {
  loadSecret,
  pathOf,
  sendAsset,
  sendSitePage,
  sendText,
  startSite,
  wantsPage,
} from './demo-site-kit.ts';

export const demoRadioSecretFileName = 'demo-radio-secret';
/** One second of a song. */
export const demoSecondPrice = '0.0001';
/** One call of the forecast API. */
export const demoCallPrice = '0.0005';
/** The longest stream one request asks for, in seconds. */
const streamSecondsMax = 600;
/** How often the site hands its highest vouchers to the platform while it serves. */
const checkpointIntervalMs = 5_000;

const songs: readonly RadioSong[] = [
  { slug: 'morning-mites', title: 'Morning Mites', seconds: 30 },
  { slug: 'four-oh-two', title: 'Four Oh Two (Payment Required)', seconds: 20 },
];

export interface DemoRadio {
  readonly url: string;
  /** A song's stream URL and the metered API's, for the banner. */
  readonly songUrl: string;
  readonly apiUrl: string;
  close(): Promise<void>;
}

export async function startDemoRadio(options: {
  readonly platformUrl: string;
  readonly merchantId: string;
  /** The merchant's API key: the site checkpoints vouchers and closes sessions with it. */
  readonly apiKey: string;
  readonly host: string;
  readonly dataDir: string;
}): Promise<DemoRadio> {
  const meter = createSessionMeter({
    merchantId: options.merchantId,
    realm: 'Mite Radio (demo)',
    platformUrl: options.platformUrl,
    challengeSecret: loadSecret(options.dataDir, demoRadioSecretFileName),
    apiKey: options.apiKey,
    store: createMemorySessionStore(),
    checkpointIntervalMs,
    routes: [
      {
        method: 'GET',
        path: '/songs/:id',
        unitPrice: demoSecondPrice,
        unitType: 'second',
        suggestedDeposit: '0.05',
        description: 'A song of Mite Radio, by the second',
      },
      {
        method: 'GET',
        path: '/api/forecast',
        unitPrice: demoCallPrice,
        unitType: 'request',
        suggestedDeposit: '0.01',
        description: 'The mite forecast, by the call',
      },
    ],
  });
  const metered = withSessionMeter(meter, radioHandler);
  const site = await startSite(options.host, () => (request, response) => {
    const pathname = pathOf(request);
    if (pathname === radioStylesheetPath && request.method === 'GET') {
      return sendAsset(response, 'text/css', radioStylesheet);
    }
    if (pathname === radioScriptPath && request.method === 'GET') {
      return sendAsset(response, 'text/javascript', radioScript);
    }
    if (pathname === '/' && wantsPage(request)) {
      return sendSitePage(response, radioPage(songs, options.platformUrl));
    }
    if (pathname === '/' && request.method === 'GET') return sendIndex(response);
    void metered(request, response);
  });
  return {
    url: site.url,
    songUrl: `${site.url}/songs/${songs[0]?.slug ?? ''}?seconds=10`,
    apiUrl: `${site.url}/api/forecast`,
    close: async () => {
      await meter.stop();
      await site.close();
    },
  };
}

/** What a paid request gets: a forecast, or a song streamed one paid second at a time. */
async function radioHandler(
  request: IncomingMessage,
  response: ServerResponse,
  payment: SessionPayment | PaidOutcome | undefined,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://radio.invalid');
  if (payment === undefined || payment.kind !== 'session') {
    return sendText(response, 404, 'nothing here\n');
  }
  if (payment.unitType === 'request') {
    return sendText(response, 200, 'Forecast: light mites, clearing by noon.\n');
  }
  const song = songs.find((known) => known.slug === url.pathname.split('/')[2]);
  if (song === undefined) return sendText(response, 404, 'no such song\n');
  const { title } = song;
  const asked = Number(url.searchParams.get('seconds') ?? '30');
  const seconds = Number.isSafeInteger(asked) && asked > 0 ? Math.min(asked, streamSecondsMax) : 30;
  response.writeHead(200, eventStreamHeaders);
  const stream = meteredEventStream(payment, (text) => response.write(text));
  for (let second = 1; second <= seconds; second += 1) {
    if (!(await stream.send(`${title}: second ${second}`))) break;
  }
  await stream.end();
  response.end();
}

function sendIndex(response: ServerResponse): void {
  const lines = songs.map(
    ({ slug, title }) => `  /songs/${slug}?seconds=N  ${title} (${demoSecondPrice} a second)`,
  );
  sendText(
    response,
    200,
    `Mite Radio (demo): pay by the second, or by the call\n${lines.join('\n')}\n` +
      `  /api/forecast  the mite forecast (${demoCallPrice} a call)\n`,
  );
}
