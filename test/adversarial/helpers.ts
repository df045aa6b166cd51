/**
 * Helpers for the adversarial tests: put several transactions in one block (an attacker's pump and the
 * trade or liquidation it is meant to enable), read a failed transaction's revert data, and compare
 * "what would have happened" branches from one chain snapshot.
 */
import hre, { ethers, network } from "hardhat";
import type { ContractTransactionResponse, Interface, TransactionReceipt } from "ethers";

/**
 * Under `npx hardhat coverage` every instruction is instrumented and a transaction costs tens of times
 * more wall time: loops that only repeat an already-covered path run this many times fewer there.
 */
export const COVERAGE_SCALE = (hre as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING ? 10 : 1;

/** Gas limit for transactions sent with automine off (no estimate: some are meant to revert). */
export const BLOCK_TX_GAS = 5_000_000n;

/**
 * Sends every transaction with automine off, mines them into one block in order and returns their
 * receipts (a reverted one has status 0; read its error with `revertOf`). Each sender must pass
 * `{ gasLimit: BLOCK_TX_GAS }` or its own limit, so that nothing is estimated against the pending state.
 */
export async function inOneBlock(
  sends: ReadonlyArray<() => Promise<ContractTransactionResponse>>,
): Promise<TransactionReceipt[]> {
  await network.provider.send("evm_setAutomine", [false]);
  const hashes: string[] = [];
  try {
    for (const send of sends) hashes.push((await send()).hash);
    await network.provider.send("evm_mine");
  } finally {
    await network.provider.send("evm_setAutomine", [true]);
  }
  const receipts = await Promise.all(hashes.map((h) => ethers.provider.getTransactionReceipt(h)));
  const blocks = new Set(receipts.map((r) => r!.blockNumber));
  if (blocks.size !== 1) throw new Error(`expected one block, got ${[...blocks].join(", ")}`);
  return receipts.map((r) => r!);
}

/** The custom error a mined, reverted transaction reverted with, decoded with `iface`. */
export async function revertOf(iface: Interface, txHash: string): Promise<{ name: string; args: unknown[] }> {
  const trace = (await network.provider.send("debug_traceTransaction", [
    txHash,
    { disableStorage: true, disableMemory: true, disableStack: true },
  ])) as { failed: boolean; returnValue: string };
  if (!trace.failed) throw new Error(`transaction ${txHash} did not revert`);
  const data = trace.returnValue.startsWith("0x") ? trace.returnValue : `0x${trace.returnValue}`;
  const parsed = iface.parseError(data);
  if (!parsed) throw new Error(`transaction ${txHash} reverted with undeclared data ${data}`);
  return { name: parsed.name, args: [...parsed.args] };
}

/** Runs `fn` from a chain snapshot and reverts the chain afterwards: "what would X have done". */
export async function whatIf<T>(fn: () => Promise<T>): Promise<T> {
  const id = (await network.provider.send("evm_snapshot")) as string;
  try {
    return await fn();
  } finally {
    await network.provider.send("evm_revert", [id]);
  }
}
