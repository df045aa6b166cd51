/**
 * A bounded wait on automined receipts. anvil's automine can leave a ready transaction unmined in its
 * pool (foundry-rs/foundry#10122), and a wait on its receipt then never ends: with `nudge`, a pool that
 * holds pending transactions at two looks `nudgeMs` apart is mined with evm_mine. Past `timeoutMs` the
 * wait fails with one line naming what it waited for.
 */
export interface BoundedWait {
  /** What the work is, for the timeout's message ("the deployment"). */
  what: string;
  timeoutMs: number;
  /** A JSON-RPC call to the node, given on anvil only: the pool is watched and nudged through it. */
  nudge?: (method: string, params: unknown[]) => Promise<unknown>;
  nudgeMs?: number;
}

export const DEFAULT_NUDGE_MS = 1_000;

export async function bounded<T>(wait: BoundedWait, work: () => Promise<T>): Promise<T> {
  const { nudge } = wait;
  let stuckBefore = false;
  const watch =
    nudge === undefined
      ? undefined
      : setInterval(() => {
          nudge("txpool_status", []).then(
            async (pool) => {
              const stuck = BigInt((pool as { pending: string }).pending) > 0n;
              if (stuck && stuckBefore) await nudge("evm_mine", []);
              stuckBefore = stuck;
            },
            // A look that fails is a look not taken: the timeout below still bounds the wait.
            () => (stuckBefore = false),
          );
        }, wait.nudgeMs ?? DEFAULT_NUDGE_MS);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${wait.what} did not finish within ${wait.timeoutMs} ms`)),
      wait.timeoutMs,
    );
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearInterval(watch);
    clearTimeout(timer);
  }
}
