/** The last `capacity` keys seen, for dropping duplicates: has/add in O(1), oldest forgotten first. */
export class KeyWindow {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity: number) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    this.keys.delete(key); // re-adding makes it the newest
    this.keys.add(key);
    if (this.keys.size > this.capacity) {
      // A Set iterates in insertion order: the first key is the oldest.
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
  }

  clear(): void {
    this.keys.clear();
  }
}
