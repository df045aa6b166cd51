import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { AbiCoder, FetchRequest, Interface, JsonRpcProvider, Network, makeError } from "ethers";
import { expect } from "chai";
import { isAlreadyKnown, isNonceError, isRevert, isRpcTransportError, revertInfo } from "../../keeper/chain/errors";

const ENGINE_ERRORS = new Interface([
  "error PositionHealthy(uint256 id, int256 equity, uint256 maintenanceMargin)",
  "error PositionNotFound(uint256 id)",
]);
const TX = { to: "0x5FbDB2315678afecb367f032d93F642f64180aa3", data: "0x" };

/** The CALL_EXCEPTION ethers' JSON-RPC provider builds from a node's revert data. */
const callException = (data: string) => AbiCoder.getBuiltinCallException("estimateGas", TX, data);

async function rpcError(url: string | FetchRequest): Promise<unknown> {
  const network = Network.from(31337);
  const provider = new JsonRpcProvider(url, network, { staticNetwork: network });
  try {
    await provider.getBlockNumber();
  } catch (error) {
    return error;
  } finally {
    provider.destroy();
  }
  throw new Error("expected the RPC call to fail");
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("chain error classification", () => {
  describe("isRpcTransportError", () => {
    it("is true for a refused connection from a real JsonRpcProvider", async () => {
      const error = await rpcError(`http://127.0.0.1:${await closedPort()}`);
      expect(isRpcTransportError(error)).to.equal(true);
    });

    it("is true for ethers' TIMEOUT from a node that never answers", async () => {
      const silent = http.createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const request = new FetchRequest(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`);
      request.timeout = 100;
      try {
        const error = await rpcError(request);
        expect((error as { code?: string }).code).to.equal("TIMEOUT");
        expect(isRpcTransportError(error)).to.equal(true);
      } finally {
        silent.closeAllConnections();
        silent.close();
      }
    });

    it("is true for ethers' NETWORK_ERROR and SERVER_ERROR, syscall codes and fetch failures, also when wrapped", () => {
      const transport = [
        makeError("network down", "NETWORK_ERROR", { event: "x" }),
        makeError("bad gateway", "SERVER_ERROR", { request: new FetchRequest("http://x") }),
        Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
        Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }),
        new TypeError("fetch failed", {
          cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }),
        }),
        { code: "UNKNOWN_ERROR", error: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }) },
        { code: "UNKNOWN_ERROR", info: { error: { code: "ECONNREFUSED" } } },
      ];
      for (const error of transport)
        expect(isRpcTransportError(error), String((error as Error).message ?? JSON.stringify(error))).to.equal(true);
    });

    it("is false for reverts, nonce errors and other answers", () => {
      const answers = [
        callException(ENGINE_ERRORS.encodeErrorResult("PositionHealthy", [1, 2, 3])),
        new Error("VM Exception while processing transaction: reverted with custom error 'PositionNotFound(1)'"),
        makeError("nonce has already been used", "NONCE_EXPIRED", { transaction: TX }),
        makeError("insufficient funds", "INSUFFICIENT_FUNDS", { transaction: TX }),
        new TypeError("cannot read properties of undefined"),
        "a string",
        undefined,
      ];
      for (const error of answers) expect(isRpcTransportError(error), String(error)).to.equal(false);
    });

    it("lets a revert win over a transport-looking wrapper", () => {
      const wrapped = Object.assign(
        makeError("server error", "SERVER_ERROR", { request: new FetchRequest("http://x") }),
        {
          error: callException(ENGINE_ERRORS.encodeErrorResult("PositionNotFound", [9])),
        },
      );
      expect(isRevert(wrapped)).to.equal(true);
      expect(isRpcTransportError(wrapped)).to.equal(false);
    });

    it("survives an error that wraps itself", () => {
      const loop: { message: string; error?: unknown } = { message: "loop" };
      loop.error = loop;
      expect(isRpcTransportError(loop)).to.equal(false);
    });
  });

  describe("isNonceError and isAlreadyKnown", () => {
    it("recognises geth's, Hardhat's and ethers' nonce refusals", () => {
      const refusals = [
        makeError("nonce has already been used", "NONCE_EXPIRED", { transaction: TX }),
        makeError("replacement fee too low", "REPLACEMENT_UNDERPRICED", { transaction: TX }),
        { code: "UNKNOWN_ERROR", error: { code: -32000, message: "nonce too low" } },
        new Error("Nonce too high. Expected nonce to be 3 but got 5."),
        new Error("replacement transaction underpriced"),
      ];
      for (const error of refusals) expect(isNonceError(error), String((error as Error).message)).to.equal(true);
      expect(isNonceError(new Error("insufficient funds for gas * price + value"))).to.equal(false);
    });

    it("recognises a node that already holds the transaction", () => {
      expect(isAlreadyKnown({ error: { code: -32000, message: "already known" } })).to.equal(true);
      expect(isAlreadyKnown(new Error("Known transaction: 0xabc"))).to.equal(true);
      expect(isAlreadyKnown(new Error("nonce too low"))).to.equal(false);
    });
  });

  describe("revertInfo", () => {
    it("decodes a custom error with the contracts' interface", () => {
      const error = callException(ENGINE_ERRORS.encodeErrorResult("PositionHealthy", [7, -5, 12]));
      expect(revertInfo(error, ENGINE_ERRORS)).to.deep.include({
        errorName: "PositionHealthy",
        reason: "PositionHealthy(7, -5, 12)",
      });
    });

    it("keeps the raw data when the error is not in the interface", () => {
      const data = ENGINE_ERRORS.encodeErrorResult("PositionNotFound", [3]);
      const info = revertInfo(callException(data));
      expect(info?.errorName).to.equal(undefined);
      expect(info?.data).to.equal(data);
      expect(info?.reason).to.contain(data.slice(0, 10));
    });

    it("names the built-in Error(string) and Panic(uint256)", () => {
      const message = AbiCoder.defaultAbiCoder().encode(["string"], ["paused"]).slice(2);
      expect(revertInfo(callException(`0x08c379a0${message}`))).to.deep.include({
        errorName: "Error",
        reason: "paused",
      });
      const panic = AbiCoder.defaultAbiCoder().encode(["uint256"], [0x11]).slice(2);
      expect(revertInfo(callException(`0x4e487b71${panic}`))?.errorName).to.equal("Panic");
    });

    it("reads the custom error's name from Hardhat's message when there is no data", () => {
      const error = {
        error: new Error("VM Exception while processing transaction: reverted with custom error 'PositionNotFound(4)'"),
      };
      expect(revertInfo(error)?.errorName).to.equal("PositionNotFound");
      expect(isRevert(error)).to.equal(true);
    });

    it("takes Hardhat's out-of-gas failure for a revert without a name (so the budget can be replaced)", () => {
      const error = new Error("Transaction reverted: contract call run out of gas and made the transaction revert");
      expect(isRevert(error)).to.equal(true);
      expect(isRpcTransportError(error)).to.equal(false);
      expect(revertInfo(error)).to.deep.equal({ reason: error.message });
    });

    it("is undefined for what is not a revert", () => {
      expect(revertInfo(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).to.equal(
        undefined,
      );
      expect(revertInfo(undefined)).to.equal(undefined);
    });
  });
});
