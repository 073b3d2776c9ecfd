/**
 * `work`'s value, or `late()`'s when `work` has not settled within `ms`. The work is not
 * stopped: it goes on, and its result is dropped. A probe or a scrape answers in time
 * whatever the database or Redis does.
 */
export function within<T>(work: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
