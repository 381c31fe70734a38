/**
 * Settles as `promise` does, or rejects with the signal's reason as soon as it aborts: for waiting
 * on work this code does not own (a round in progress) without waiting past a deadline. To wait
 * for the work to finish whether it fails or not, pass `promise.catch(() => undefined)`.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
