// Work started by a request that outlives it (run-now). Tracked so a graceful shutdown
// and the CLI can wait for it instead of cutting a sync off mid-page.
export class Background {
  private readonly tasks = new Set<Promise<unknown>>();

  run(task: () => Promise<unknown>, onError: (err: unknown) => void): void {
    const p = task().catch(onError);
    this.tasks.add(p);
    void p.finally(() => this.tasks.delete(p));
  }

  get size(): number {
    return this.tasks.size;
  }

  async idle(): Promise<void> {
    while (this.tasks.size) await Promise.allSettled([...this.tasks]);
  }
}
