/**
 * Mite Radio's page: a `<mite-meter>` player for each song, loaded from the platform, which pays
 * the song by the second from the listener's wallet through the platform's session window. The
 * radio's script (served by the radio: the page's policy allows scripts from the radio and the
 * platform only) shows each paid second as it comes and plays it: a note of the song's tune,
 * synthesised in the browser, so that the demo needs no audio files.
 */
import { escapeHtml, type SitePage } from './demo-site-kit.ts';

export const radioStylesheetPath = '/radio.css';
export const radioScriptPath = '/radio.js';
/** Where the platform serves the player element (packages/server/src/web/web-apps.ts). */
export const meterScriptPath = '/meter.js';

const siteName = 'Mite Radio';

export interface RadioSong {
  readonly slug: string;
  readonly title: string;
  /** How long the song is. */
  readonly seconds: number;
}

export const radioStylesheet = `body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fdf6ec}
header{background:#3d2c8d;padding:1rem 1.5rem}
header a{color:#fff;font-weight:800;font-size:1.4rem;text-decoration:none;letter-spacing:.04em}
main{max-width:48rem;margin:0 auto;padding:1rem 1.5rem 3rem}
.song{background:#fff;border:1px solid #d6cdbf;border-radius:8px;padding:1rem;margin:0 0 1.25rem}
.song h2{margin:0 0 .5rem}
.now{font-family:ui-monospace,monospace;min-height:1.5em;margin:.75rem 0 0}
.demo-note{font-size:14px;color:#4a4a4a}
`;

/**
 * Plain browser JavaScript (the CLI is not built for the browser). Each paid second is shown in
 * the song's "now playing" line and played as one note of a short tune, once the listener has
 * pressed Play (browsers allow sound only after a click on the page).
 */
export const radioScript = `const tune = [262, 294, 330, 349, 392, 349, 330, 294];
let audio;

function play(second) {
  try {
    audio ??= new AudioContext();
    const note = audio.createOscillator();
    const gain = audio.createGain();
    note.frequency.value = tune[(second - 1) % tune.length];
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.9);
    note.connect(gain).connect(audio.destination);
    note.start();
    note.stop(audio.currentTime + 0.9);
  } catch {
    // No sound here: the line still shows what was paid for.
  }
}

for (const meter of document.querySelectorAll('mite-meter')) {
  const now = document.getElementById(meter.dataset.now);
  meter.addEventListener('mite-meter-data', (event) => {
    now.textContent = event.detail.data;
    play(event.detail.seconds);
  });
  meter.addEventListener('mite-meter-stopped', (event) => {
    now.textContent = 'Stopped after ' + event.detail.seconds + ' s.';
  });
}
`;

function songSection(song: RadioSong, platformUrl: string): string {
  const title = escapeHtml(song.title);
  const nowId = `now-${escapeHtml(song.slug)}`;
  return `<section class="song" aria-labelledby="song-${escapeHtml(song.slug)}">
<h2 id="song-${escapeHtml(song.slug)}">${title}</h2>
<mite-meter platform="${escapeHtml(platformUrl)}" src="/songs/${escapeHtml(song.slug)}?seconds=${song.seconds}" label="${title}" data-now="${nowId}"></mite-meter>
<p class="now" id="${nowId}" aria-live="off"></p>
</section>`;
}

export function radioPage(songs: readonly RadioSong[], platformUrl: string): SitePage {
  return {
    siteName,
    title: `${siteName} (demo)`,
    platformUrl,
    stylesheetPath: radioStylesheetPath,
    scriptPath: radioScriptPath,
    platformScriptPath: meterScriptPath,
    body: `<h1>${siteName}</h1>
<p>Songs paid by the second from your Mite wallet: press Play, start paying in the Mite window, and
stop when you like. You pay for exactly the seconds you heard, in one payment when you stop.</p>
${songs.map((song) => songSection(song, platformUrl)).join('\n')}
<p class="demo-note">A demo: the tunes are synthesised in your browser. From a terminal:
<code>mite pay --stream URL/songs/SONG?seconds=N</code>.</p>`,
  };
}
