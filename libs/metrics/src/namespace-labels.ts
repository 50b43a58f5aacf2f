/** The label value of every namespace past the cap. */
export const OTHER_NAMESPACE = 'other';

/**
 * The `namespace` label values of one process, capped: the first `cap` namespaces seen keep their
 * name, every later one is `other` (HERALD_METRICS_NAMESPACE_LABELS). A tenant that opens sockets
 * on thousands of namespaces, or a flood of refused handshakes, cannot make the process export
 * thousands of series — Prometheus' cost grows with series, not with samples. First come keeps its
 * name for the life of the process: a label that changed meaning would break every rate().
 */
export class NamespaceLabels {
  private readonly named = new Set<string>();

  constructor(private readonly cap: number) {}

  /** The label of `namespace`: its name while under the cap (or already named), else `other`. */
  of(namespace: string): string {
    if (this.named.has(namespace)) return namespace;
    if (this.named.size >= this.cap) return OTHER_NAMESPACE;
    this.named.add(namespace);
    return namespace;
  }
}
