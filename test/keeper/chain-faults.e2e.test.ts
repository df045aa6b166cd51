/**
 * The keeper on a real chain's faults, against anvil over HTTP (one anvil for the file, an EVM snapshot
 * per test): reorgs of depth 1 to 3 (anvil_rollback and anvil_reorg), a signer that cannot pay, three
 * sharded keepers with one killed, and chain resets (a redeploy at the same addresses, and none). Each
 * ends with no liquidatable position left behind.
 */
import { expect } from "chai";
import { Wallet, toBeHex } from "ethers";
import { createKeeperApp } from "../../keeper/app";
import type { KeeperApp } from "../../keeper/app";
import { ConfigError, LOCAL_KEEPER_KEYS } from "../../keeper/config";
import { ChainGoneError } from "../../keeper/keeper";
import { createMemoryLogger } from "../../keeper/log";
import type { MemoryLogger } from "../../keeper/log";
import { ownsPosition } from "../../keeper/shard";
import { deploySystem } from "../../lib/deploy";
import { startAnvil } from "./anvil";
import {
  expectOpen,
  freePort,
  fundGas,
  keeperConfig,
  liquidationsSince,
  openingTransactions,
  openPositions,
  pushPrice,
  startChain,
  waitFor,
} from "./e2e";
import type { Chain, OpenedPosition } from "./e2e";

const POLL_MS = "50";
const IDLE_TICK_MS = 200;

interface RunningKeeper {
  app: KeeperApp;
  logs: MemoryLogger;
  running: Promise<void>;
}

interface Health {
  status: number;
  body: { status: string; reason?: string };
}

async function healthOf(app: KeeperApp): Promise<Health> {
  const response = await fetch(`${app.opsUrl}/health`);
  return { status: response.status, body: (await response.json()) as Health["body"] };
}

async function metricOf(app: KeeperApp, name: string): Promise<number> {
  const text = await (await fetch(`${app.opsUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (line === undefined) throw new Error(`no metric ${name}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

function logged(logs: MemoryLogger, pattern: RegExp) {
  return logs.entries().filter((e) => pattern.test(String(e.msg)));
}

describe("keeper on a real chain's faults (anvil over HTTP)", function () {
  this.timeout(120_000);
  let chain: Chain;
  let base: string;
  const keepers: RunningKeeper[] = [];

  /** A keeper as the CLI assembles it; `key` undefined starts it without --private-key. */
  async function startKeeper(key: string | undefined, flags: Record<string, string> = {}): Promise<RunningKeeper> {
    const config = keeperConfig({
      "rpc-url": chain.evm.url,
      deployment: chain.deploymentFile,
      "poll-ms": POLL_MS,
      "metrics-port": String(await freePort()),
      ...(key === undefined ? {} : { "private-key": key }),
      ...flags,
    });
    const logs = createMemoryLogger("info");
    const app = await createKeeperApp(config, logs.log, { idleTickMs: IDLE_TICK_MS });
    const running = app.run();
    running.catch(() => undefined);
    const keeper = { app, logs, running };
    keepers.push(keeper);
    await waitFor("the keeper's first block", 20_000, async () => app.service.processedBlock);
    return keeper;
  }

  async function fundedKey(seed: number): Promise<string> {
    const wallet = new Wallet(toBeHex(BigInt(0xfa017 + seed), 32));
    await fundGas(chain, wallet.address);
    return wallet.privateKey;
  }

  /** Waits until the keeper has processed the chain's head. */
  async function caughtUp(keeper: RunningKeeper): Promise<void> {
    await waitFor("the keeper to reach the head", 20_000, async () => {
      const head = await chain.provider.getBlock("latest");
      const applied = keeper.app.keeper.lastApplied;
      return applied?.number === head!.number && applied.hash === head!.hash ? true : undefined;
    });
  }

  /** A price 10% past the 10x short's liquidation price, pushed; returns the block of the crossing. */
  async function crossShorts(positions: readonly OpenedPosition[]): Promise<number> {
    const views = await chain.ex.lens.positions(positions.map((p) => p.id));
    const highest = views.reduce((max, v) => (v.liquidationPrice > max ? v.liquidationPrice : max), 0n);
    return pushPrice(chain, chain.alt, (highest * 11n) / 10n);
  }

  /** None of `ids` is liquidatable now: the keeper missed nothing. */
  async function expectNoneMissed(ids: readonly bigint[]): Promise<void> {
    const flags = await chain.ex.lens.liquidatable([...ids]);
    expect(flags.filter(Boolean), "positions left liquidatable").to.have.length(0);
  }

  const short10x = { side: -1n as const, marginUsd: 100n, leverage: 10n };

  before(async () => {
    chain = await startChain(() => startAnvil());
    base = (await chain.evm.rpc("evm_snapshot")) as string;
  });

  beforeEach(async () => {
    await chain.evm.rpc("evm_revert", [base]);
    base = (await chain.evm.rpc("evm_snapshot")) as string;
  });

  afterEach(async () => {
    for (const k of keepers.splice(0)) await k.app.stop();
  });

  after(async () => {
    await chain?.close();
  });

  for (const depth of [1, 2, 3]) {
    it(`after a reorg of depth ${depth}, drops the position only the old branch had and liquidates one opened on the new branch in the next block`, async () => {
      const keeper = await startKeeper(await fundedKey(depth));
      const [old] = await openPositions(chain, [{ market: chain.alt, ...short10x }], { oneBlock: true });
      for (let i = 1; i < depth; i++) await chain.evm.rpc("evm_mine");
      await caughtUp(keeper);
      expect(keeper.app.keeper.book.get(old.id), "the old branch's position, tracked").to.not.equal(undefined);
      expect(await metricOf(keeper.app, "perpsim_positions_tracked")).to.equal(1);
      const oldHead = await chain.provider.getBlock("latest");

      // The new branch, as high as the old one: `depth` blocks replaced, the first opens another position.
      // Depth 2 with anvil_reorg (the blocks replaced in place by empty ones; the position opens in the
      // next block), 1 and 3 with anvil_rollback and as many new blocks, the first opening the position.
      if (depth === 2) await chain.evm.rpc("anvil_reorg", [depth, []]);
      else await chain.evm.rpc("anvil_rollback", [depth]);
      const [fresh] = await openPositions(chain, [{ market: chain.alt, ...short10x }], { oneBlock: true });
      for (let i = 1; i < depth && depth !== 2; i++) await chain.evm.rpc("evm_mine");
      const newHead = await chain.provider.getBlock("latest");
      expect(newHead!.number).to.equal(oldHead!.number + (depth === 2 ? 1 : 0));
      expect((await chain.provider.getBlock(oldHead!.number))!.hash).to.not.equal(oldHead!.hash);

      await caughtUp(keeper);
      expect(keeper.app.keeper.book.get(old.id), "the old branch's position, dropped").to.equal(undefined);
      expect(keeper.app.keeper.book.get(fresh.id), "the new branch's position, tracked").to.not.equal(undefined);
      expect(await metricOf(keeper.app, "perpsim_positions_tracked")).to.equal(1);
      expect(await metricOf(keeper.app, "perpsim_reorgs_total")).to.equal(1);
      const [reorg] = logged(keeper.logs, /^reorg: /);
      expect(reorg).to.deep.include({ depth, forkBlock: oldHead!.number - depth });

      const crossedAt = await crossShorts([fresh]);
      const [liquidation] = await waitFor("the liquidation", 20_000, async () => {
        const found = await liquidationsSince(chain, crossedAt);
        return found.length > 0 ? found : undefined;
      });
      expect(liquidation.id).to.equal(fresh.id);
      expect(liquidation.block - crossedAt, "blocks from the crossing to the liquidation").to.equal(1);
      await expectNoneMissed([fresh.id]);
      expect((await healthOf(keeper.app)).status).to.equal(200);
    });
  }
});
