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
  freePort,
  fundGas,
  keeperConfig,
  liquidationsSince,
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
  async function startKeeper(
    key: string | undefined,
    flags: Record<string, string> = {},
    resetGraceMs?: number,
  ): Promise<RunningKeeper> {
    const config = keeperConfig({
      "rpc-url": chain.evm.url,
      deployment: chain.deploymentFile,
      "poll-ms": POLL_MS,
      "metrics-port": String(await freePort()),
      ...(key === undefined ? {} : { "private-key": key }),
      ...flags,
    });
    const logs = createMemoryLogger("info");
    const app = await createKeeperApp(config, logs.log, { idleTickMs: IDLE_TICK_MS, resetGraceMs });
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
    chain = await startChain(() => startAnvil(), { nudgePool: true });
    base = (await chain.evm.rpc("evm_snapshot")) as string;
  });

  /** Set by the tests that reset the chain (which drops the snapshots); they come last. */
  let reset = false;

  beforeEach(async () => {
    if (reset) return;
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
      // The head can be applied while the sync that undid the old branch is still on its second read (the
      // chain moved under a page); the reorg is counted and logged when that sync returns.
      await waitFor("the reorg to be told", 20_000, async () =>
        logged(keeper.logs, /^reorg: /).length > 0 ? true : undefined,
      );
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

  it("reports a signer that cannot pay for a batch on /health with the reason, and liquidates once it is funded", async () => {
    const [risky] = await openPositions(chain, [{ market: chain.alt, ...short10x }]);
    const broke = new Wallet(toBeHex(0xb0c0n, 32));
    const keeper = await startKeeper(broke.privateKey);
    const unhealthy = await healthOf(keeper.app);
    expect(unhealthy.status).to.equal(503);
    expect(unhealthy.body.reason).to.match(
      new RegExp(`^signer ${broke.address} has 0\\.0 ETH, less than one liquidateMany\\(50\\) batch .*--private-key$`),
    );
    expect(logged(keeper.logs, /^signer .* has 0\.0 ETH/)).to.have.length(1);

    const crossedAt = await crossShorts([risky]);
    await fundGas(chain, broke.address);
    const [liquidation] = await waitFor("the liquidation once funded", 20_000, async () => {
      const found = await liquidationsSince(chain, crossedAt);
      return found.length > 0 ? found : undefined;
    });
    expect(liquidation).to.deep.include({ id: risky.id, keeper: broke.address });
    await waitFor("/health 200", 10_000, async () => ((await healthOf(keeper.app)).status === 200 ? true : undefined));
    await expectNoneMissed([risky.id]);
  });

  it("signs with anvil's funded account #9 without --private-key, and refuses with exit-2 advice naming --private-key when no local key is funded", async () => {
    const keeper = await startKeeper(undefined);
    expect(keeper.app.address).to.equal(new Wallet(LOCAL_KEEPER_KEYS[1].key).address);
    expect((await healthOf(keeper.app)).status).to.equal(200);
    await keeper.app.stop();

    for (const local of LOCAL_KEEPER_KEYS) {
      await chain.evm.rpc("anvil_setBalance", [new Wallet(local.key).address, "0x0"]);
    }
    const config = keeperConfig({ "rpc-url": chain.evm.url, deployment: chain.deploymentFile, "metrics-port": "0" });
    let refusal: unknown;
    try {
      await createKeeperApp(config, createMemoryLogger("info").log);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).to.be.instanceOf(ConfigError);
    expect((refusal as Error).message).to.match(/^--private-key is required: no local key can pay for a liquidateMany/);
  });

  it("three keepers on --shard 0/3, 1/3, 2/3 with one killed: each liquidates its own shard in the next block, the dead one's after --takeover-blocks", async () => {
    const TAKEOVER = 2;
    const shards = [0, 1, 2].map((index) => ({ index, count: 3 }));
    const opened: OpenedPosition[] = [];
    // Until every shard holds at least two positions (an id's low bits are its new account's address, a hash).
    while (shards.some((shard) => opened.filter((p) => ownsPosition(p.id, shard)).length < 2)) {
      opened.push(
        ...(await openPositions(
          chain,
          Array.from({ length: 3 }, () => ({ market: chain.alt, ...short10x })),
        )),
      );
    }
    const keepers3: RunningKeeper[] = [];
    for (const shard of shards) {
      keepers3.push(
        await startKeeper(await fundedKey(10 + shard.index), {
          shard: `${shard.index}/3`,
          "takeover-blocks": String(TAKEOVER),
        }),
      );
    }
    await keepers3[1].app.stop(); // killed: its shard is left to the others

    const keeperOf = (index: number) => keepers3[index].app.address;
    const shardOf = (id: bigint) => shards.find((s) => ownsPosition(id, s))!.index;
    const crossedAt = await crossShorts(opened);
    // The live keepers' shards, each by its own keeper, in the first blocks: automine gives each of the
    // two keepers' batches a block of its own, so the second lands two blocks after the crossing.
    const live = opened.filter((p) => shardOf(p.id) !== 1);
    const own = await waitFor("the live shards liquidated", 20_000, async () => {
      const all = (await liquidationsSince(chain, crossedAt)).filter((l) => shardOf(l.id) !== 1);
      return all.length >= live.length ? all : undefined;
    });
    expect(new Set(own.map((l) => l.id))).to.deep.equal(new Set(live.map((p) => p.id)));
    for (const l of own) {
      expect(l.keeper, "a live keeper's own positions, by itself").to.equal(keeperOf(shardOf(l.id)));
      expect(l.block - crossedAt, "its own shard in the first blocks").to.be.at.most(2);
    }
    // The dead keeper's shard, taken over by a live one once it has stayed liquidatable TAKEOVER blocks.
    const dead = opened.filter((p) => shardOf(p.id) === 1);
    const takenOver = await waitFor("the dead shard taken over", 30_000, async () => {
      const all = (await liquidationsSince(chain, crossedAt)).filter((l) => shardOf(l.id) === 1);
      if (all.length >= dead.length) return all;
      await chain.evm.rpc("evm_mine"); // blocks pass, as on a chain that mines on a clock
      return undefined;
    });
    expect(new Set(takenOver.map((l) => l.id))).to.deep.equal(new Set(dead.map((p) => p.id)));
    for (const l of takenOver) {
      expect([keeperOf(0), keeperOf(2)], "the dead keeper's positions, taken over").to.include(l.keeper);
      expect(l.block - crossedAt, "taken over after the takeover blocks").to.be.greaterThan(TAKEOVER);
    }
    await expectNoneMissed(opened.map((p) => p.id));
  });

  // The resets last: anvil_reset drops the snapshots.
  it("rebuilds after the chain is reset and the system redeployed at the same addresses, and liquidates the new chain's position", async () => {
    const [oldChain] = await openPositions(chain, [{ market: chain.alt, ...short10x }]);
    const keeper = await startKeeper(await fundedKey(20));
    await caughtUp(keeper);
    expect(keeper.app.keeper.book.get(oldChain.id)).to.not.equal(undefined);

    reset = true;
    await chain.evm.rpc("anvil_reset", []);
    await chain.evm.rpc("anvil_setBalance", [chain.deployer.address, toBeHex(10n ** 22n)]);
    // The deployer's nonce restarts at 0 on the new chain: the same addresses.
    const redeployed = await deploySystem(chain.deployer);
    expect(redeployed.deployment.contracts.engine).to.equal(chain.ex.deployment.contracts.engine);
    await fundGas(chain, keeper.app.address);
    const [fresh] = await openPositions(chain, [{ market: chain.alt, ...short10x }]);
    await caughtUp(keeper);
    expect(keeper.app.keeper.book.get(oldChain.id), "the old chain's position, forgotten").to.equal(undefined);
    expect(keeper.app.keeper.book.get(fresh.id), "the new chain's position, indexed").to.not.equal(undefined);
    // Once per venue: each rebuilds its own book from its own engine's creation block (a venue still in
    // its backoff from the wait for the redeploy may do so a moment after USD has caught up).
    const rebuilt = await waitFor("every venue's rebuild", 20_000, async () => {
      const lines = logged(keeper.logs, /^chain reset: .*rebuilding from block \d+$/);
      return lines.length >= 3 ? lines : undefined;
    });
    expect(rebuilt.map((e) => e.venue)).to.have.members(["USD", "BTC", "ALT"]);
    expect(await metricOf(keeper.app, "perpsim_chain_resets_total")).to.equal(1);

    const crossedAt = await crossShorts([fresh]);
    const [liquidation] = await waitFor("the liquidation", 20_000, async () => {
      const found = await liquidationsSince(chain, crossedAt);
      return found.length > 0 ? found : undefined;
    });
    expect(liquidation).to.deep.include({ id: fresh.id, block: crossedAt + 1 });
    await expectNoneMissed([fresh.id]);
    expect((await healthOf(keeper.app)).status).to.equal(200);
  });

  it("stops with ChainGoneError and an unhealthy /health when the chain is reset and nothing is redeployed within the grace period", async () => {
    const keeper = await startKeeper(await fundedKey(30), {}, 1_000);
    reset = true;
    await chain.evm.rpc("anvil_reset", []);
    let stopped: unknown;
    await keeper.running.catch((error: unknown) => (stopped = error));
    expect(stopped).to.be.instanceOf(ChainGoneError);
    expect((stopped as Error).message).to.match(
      /^chain reset: .*there is no contract at the engine 0x[0-9a-fA-F]{40} any more: deploy again and restart the keeper/,
    );
    const health = await healthOf(keeper.app);
    expect(health.status).to.equal(503);
    expect(health.body.reason).to.equal((stopped as Error).message);
  });
});
