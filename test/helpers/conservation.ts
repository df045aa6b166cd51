/**
 * Money checks shared by the tests.
 *
 * `expectConservation` is SPEC section 8, invariant 1, to the unit: the collateral the vault holds
 * equals what its ledgers owe, the ledgers add up, the margin ledger is exactly the open positions'
 * margins, and (when the accounts are listed) the free ledger is exactly their balances. Call it at the
 * end of every test that moves money, listing every position the test opened (closed ones count 0).
 *
 * `snapshotState` / `expectUnchanged` back the "a refused call changes nothing" tests.
 */
import { expect } from "chai";
import type { Exchange } from "../../lib/contracts";
import { USD6_TO_WAD } from "../../lib/units";

export async function expectConservation(
  ex: Exchange,
  positionIds: readonly bigint[],
  accounts?: readonly string[],
): Promise<void> {
  const vault = ex.vault;
  const held = (await ex.collateral.balanceOf(await vault.getAddress())) * USD6_TO_WAD;
  const [owed, totalFree, totalMargin, totalEscrow, poolAssets, insurance] = await Promise.all([
    vault.totalOwed(),
    vault.totalFree(),
    vault.totalMargin(),
    vault.totalEscrow(),
    vault.poolAssets(),
    vault.insuranceFund(),
  ]);
  expect(held, "collateral held (WAD) == vault.totalOwed()").to.equal(owed);
  expect(totalFree + totalMargin + totalEscrow + poolAssets + insurance, "sum of ledgers == totalOwed").to.equal(owed);

  let margins = 0n;
  for (const id of new Set(positionIds)) margins += (await ex.admin.position(id)).margin;
  expect(totalMargin, "margin ledger == sum of the listed positions' margins").to.equal(margins);

  if (accounts) {
    let free = 0n;
    for (const account of new Set(accounts)) free += await vault.freeBalance(account);
    expect(totalFree, "free ledger == sum of the listed accounts' free balances").to.equal(free);
  }
}

/** Everything a refused call must leave as it was, as plain data (deep-comparable). */
export interface StateSnapshot {
  vault: bigint[];
  free: bigint[];
  tokens: bigint[];
  positions: unknown[];
  markets: unknown[];
  lpSupply: bigint;
}

export async function snapshotState(
  ex: Exchange,
  accounts: readonly string[],
  positionIds: readonly bigint[],
): Promise<StateSnapshot> {
  const vault = ex.vault;
  const marketCount = await ex.admin.marketCount();
  const markets: unknown[] = [];
  for (let id = 1n; id <= marketCount; id++) {
    markets.push([[...(await ex.admin.marketState(id))], [...(await ex.admin.marketConfig(id))]]);
  }
  return {
    vault: [
      await ex.collateral.balanceOf(await vault.getAddress()),
      await vault.totalFree(),
      await vault.totalMargin(),
      await vault.totalEscrow(),
      await vault.poolAssets(),
      await vault.insuranceFund(),
    ],
    free: await Promise.all(accounts.map((a) => vault.freeBalance(a))),
    tokens: await Promise.all(accounts.map((a) => ex.collateral.balanceOf(a))),
    positions: await Promise.all(positionIds.map(async (id) => [...(await ex.admin.position(id))])),
    markets,
    lpSupply: await ex.pool.totalSupply(),
  };
}

export function expectUnchanged(before: StateSnapshot, after: StateSnapshot): void {
  expect(after).to.deep.equal(before);
}
