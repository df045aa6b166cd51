/**
 * Gas fees for a transaction and for its replacement. A replacement (same nonce) must outbid the
 * pending transaction: nodes refuse one that raises the fees by less than 10% (geth's price bump),
 * so every fee rises by at least 1/8 (12.5%), and never below what the network asks for now.
 */
import type { FeeData } from "ethers";

export type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { gasPrice: bigint };

/** 12.5%: the bump is ceil(fee / 8), at least 1 wei. */
const BUMP_DIVISOR = 8n;

/** EIP-1559 fees when the network quotes them, a legacy gas price otherwise. */
export function feesFrom(feeData: FeeData): Fees {
  const { maxFeePerGas, maxPriorityFeePerGas, gasPrice } = feeData;
  if (maxFeePerGas !== null && maxPriorityFeePerGas !== null) return { maxFeePerGas, maxPriorityFeePerGas };
  if (gasPrice !== null) return { gasPrice };
  throw new Error("the RPC quoted neither EIP-1559 fees nor a gas price");
}

/** Only the fee fields of a transaction. */
export function feesOf(tx: Fees): Fees {
  return "gasPrice" in tx
    ? { gasPrice: tx.gasPrice }
    : { maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas };
}

function bumpUp(fee: bigint): bigint {
  const bump = (fee + BUMP_DIVISOR - 1n) / BUMP_DIVISOR;
  return fee + (bump > 1n ? bump : 1n);
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/**
 * The fees for replacing a transaction sent with `previous`: each at least 12.5% higher, and at
 * least the network's `current` quote of the same kind.
 */
export function bumpFees(previous: Fees, current: Fees): Fees {
  if ("gasPrice" in previous) {
    return { gasPrice: max(bumpUp(previous.gasPrice), "gasPrice" in current ? current.gasPrice : 0n) };
  }
  const quote = "gasPrice" in current ? { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } : current;
  const maxPriorityFeePerGas = max(bumpUp(previous.maxPriorityFeePerGas), quote.maxPriorityFeePerGas);
  const maxFeePerGas = max(max(bumpUp(previous.maxFeePerGas), quote.maxFeePerGas), maxPriorityFeePerGas);
  return { maxFeePerGas, maxPriorityFeePerGas };
}
