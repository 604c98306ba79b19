/** A binary min-heap ordered by a bigint key: the engine's queue of pending-transfer expiries. */
export class MinHeap<T> {
  private readonly items: { key: bigint; value: T }[] = [];

  get size(): number {
    return this.items.length;
  }

  peekKey(): bigint | undefined {
    return this.items[0]?.key;
  }

  push(key: bigint, value: T): void {
    const items = this.items;
    items.push({ key, value });
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const up = items[parent];
      const item = items[index];
      if (up === undefined || item === undefined || up.key <= item.key) break;
      items[parent] = item;
      items[index] = up;
      index = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top?.value;
    items[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if ((items[left]?.key ?? Infinity) < (items[smallest]?.key ?? 0n)) smallest = left;
      if ((items[right]?.key ?? Infinity) < (items[smallest]?.key ?? 0n)) smallest = right;
      if (smallest === index) break;
      const a = items[index] as (typeof items)[number];
      items[index] = items[smallest] as (typeof items)[number];
      items[smallest] = a;
      index = smallest;
    }
    return top.value;
  }

  clear(): void {
    this.items.length = 0;
  }
}
