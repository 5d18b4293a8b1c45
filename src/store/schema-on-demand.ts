/**
 * A zod schema built when first needed and held only weakly after. The store's documents are read at start and
 * seldom after, and zod schema objects are heavy (~1.5 KiB a node): every document's schema kept for the life of
 * the process cost an idle service ~0.3 MiB. Once collected, the next read builds it again (a fraction of a
 * millisecond).
 */
export function schemaOnDemand<T extends object>(build: () => T): () => T {
  let held: WeakRef<T> | undefined;
  return () => {
    const kept = held?.deref();
    if (kept) return kept;
    const made = build();
    held = new WeakRef(made);
    return made;
  };
}
