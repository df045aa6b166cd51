/**
 * The venues one keeper serves: the USD-margined exchange ("USD") and each coin-margined exchange,
 * named by its coin ("BTC", "ALT"), as the CLI (keeper/app.ts) and in-process hosts (the simulator,
 * tests) run them: one Keeper per venue over one signer, sharing one transactor, so the venues'
 * transactions take the signer's nonces one at a time and never collide.
 */
import type { Signer } from "ethers";
import type { Exchange } from "../lib/contracts";
import { USD_VENUE } from "./config";
import { Keeper } from "./keeper";
import type { KeeperOptions } from "./keeper";
import { SignerTransactor } from "./transactor";
import type { Transactor } from "./transactor";

export interface VenueExchange {
  name: string;
  exchange: Exchange;
}

/** USD (the exchange itself), then each of its coin-margined exchanges by coin, in the record's order. */
export function venuesOf(exchange: Exchange): VenueExchange[] {
  return [
    { name: USD_VENUE, exchange },
    ...[...exchange.coinMargined].map(([name, coinExchange]) => ({ name, exchange: coinExchange })),
  ];
}

/**
 * One Keeper per venue of `exchange`, all signing with `signer` through one transactor (a
 * SignerTransactor over it unless given); `options` gives each venue's (its metrics, its market source).
 */
export function createVenueKeepers(
  exchange: Exchange,
  signer: Signer,
  options: (venue: string) => Partial<KeeperOptions> & { fromBlock: number },
  transactor: Transactor = new SignerTransactor(signer),
): Map<string, Keeper> {
  return new Map(
    venuesOf(exchange).map(({ name, exchange: venue }) => [
      name,
      new Keeper(venue, signer, { ...options(name), transactor }),
    ]),
  );
}
