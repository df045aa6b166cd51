/**
 * `simulate --network localhost` against a real `hardhat node`: the same seed gives the in-process
 * run's summary.json byte for byte (see README, "On a node"). Starts its own node on a spare port;
 * about a minute, so only with SIM_NODE=1: SIM_NODE=1 npx hardhat test test/sim/node.test.ts
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { loadScenario } from "../../sim/scenario";
import { runScenario } from "../../sim/runner";
import { summaryJson } from "../../sim/output";

const HARDHAT_CLI = require.resolve("hardhat/internal/cli/cli.js");
const PORT = 8_645;
const RPC_URL = `http://127.0.0.1:${PORT}`;

/** squeeze-thin cut to its squeeze: 16 hours, 20-minute steps, the pushes up to 14 h. */
function shortScenarioFile(dir: string): string {
  const json = JSON.parse(fs.readFileSync("scenarios/squeeze-thin.json", "utf8"));
  json.durationHours = 16;
  json.stepMinutes = 20;
  json.agents.marketMaker.pushes = json.agents.marketMaker.pushes.filter((p: { atHours: number }) => p.atHours <= 14);
  const file = path.join(dir, "squeeze-thin-short.json");
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

function startNode(): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const node = spawn(process.execPath, [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(PORT)]);
    const timer = setTimeout(() => reject(new Error("hardhat node did not start in 60 s")), 60_000);
    node.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("Started HTTP")) {
        clearTimeout(timer);
        resolve(node);
      }
    });
    node.on("exit", (code) => reject(new Error(`hardhat node exited with ${code}`)));
  });
}

function simulateOnNode(scenario: string, out: string): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [HARDHAT_CLI, "simulate", "--network", "localhost", "--scenario", scenario, "--out", out],
      { env: { ...process.env, RPC_URL }, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve()),
    ),
  );
}

(process.env.SIM_NODE === "1" ? describe : describe.skip)("simulate --network localhost", function () {
  this.timeout(300_000);
  let dir: string;
  let node: ChildProcess | undefined;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "perpsim-node-"));
    node = await startNode();
  });
  after(() => {
    node?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("gives the in-process run's summary.json, byte for byte, for the same seed", async () => {
    const file = shortScenarioFile(dir);
    const inProcess = summaryJson((await runScenario(hre, loadScenario(file))).summary);
    await simulateOnNode(file, path.join(dir, "node"));
    expect(fs.readFileSync(path.join(dir, "node", "summary.json"), "utf8")).to.equal(inProcess);
  });
});
