/**
 * Waits that end when an AbortSignal aborts, including when it already had before the wait began
 * (an `abort` listener added after the fact never fires), and that leave no listener behind.
 */

/** Resolves with `promise`'s value, or with undefined once `signal` aborts. */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Sleeps `ms`; resolves true if the signal aborted the wait (or already had). */
export async function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const slept = await unlessAborted(new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), ms))), signal);
  clearTimeout(timer);
  return slept === undefined;
}
