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

/** The capacity a key's ring starts with; it doubles up to `eventsPerKeyMax`. */
const ringCapacityInitial = 4;

interface Ring {
  times: Float64Array;
  amounts: BigInt64Array;
  /** The index the next event is written to. */
  next: number;
  size: number;
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

function grow(ring: Ring, capacity: number): void {
  const times = new Float64Array(capacity);
  const amounts = new BigInt64Array(capacity);
  const old = ring.times.length;
  for (let i = 0; i < ring.size; i += 1) {
    const from = (ring.next - ring.size + i + old) % old;
    times[i] = ring.times[from] ?? 0;
    amounts[i] = ring.amounts[from] ?? 0n;
  }
  ring.times = times;
  ring.amounts = amounts;
  ring.next = ring.size;
}

function push(ring: Ring, atMs: number, amountMicros: bigint, capacityMax: number): void {
  if (ring.size === ring.times.length && ring.size < capacityMax) {
    grow(ring, Math.min(capacityMax, ring.times.length * 2));
  }
  const capacity = ring.times.length;
  ring.times[ring.next] = atMs;
  ring.amounts[ring.next] = amountMicros;
  ring.next = (ring.next + 1) % capacity;
  ring.size = Math.min(ring.size + 1, capacity);
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
        const capacity = Math.min(ringCapacityInitial, eventsPerKeyMax);
        const times = new Float64Array(capacity);
        const amounts = new BigInt64Array(capacity);
        ring = { times, amounts, next: 0, size: 0, lastMs: atMs };
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
      for (let i = 0; i < ring.size; i += 1) {
        const atMs = ring.times[i] ?? 0;
        const amount = ring.amounts[i] ?? 0n;
        if (atMs >= sinceMs && (belowMicros === undefined || amount < belowMicros)) counted += 1;
      }
      return counted;
    },
    keyCount: () => rings.size,
  };
}
