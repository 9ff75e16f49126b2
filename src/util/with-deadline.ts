/**
 * Settles like `work`, or rejects with `message` once `ms` pass. The work itself goes on (and its
 * outcome still counts for the next caller); only this caller stops waiting.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
