import { Writable } from "node:stream";
import { expect } from "chai";
import { LOG_LEVELS, createLogger, createMemoryLogger, createSilentLogger } from "../../keeper/log";

/** A stream that keeps what it is given. */
function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("keeper log", () => {
  it("writes one JSON object per line, with level, message and fields", () => {
    const { stream, text } = sink();
    const log = createLogger({ destination: stream });
    log.info({ market: "ALT-USD", batch: 3 }, "liquidations sent");
    const line = JSON.parse(text().trim()) as Record<string, unknown>;
    expect(line).to.deep.include({
      level: LOG_LEVELS.info,
      name: "keeper",
      market: "ALT-USD",
      batch: 3,
      msg: "liquidations sent",
    });
  });

  it("writes bigints as exact decimal strings, also inside objects and arrays", () => {
    const memory = createMemoryLogger();
    const liquidationPrice = 1_234_567_890_123_456_789_012_345n;
    memory.log.info({ positionId: 42n, prices: { liquidationPrice }, ids: [1n, 2n] }, "candidate");
    expect(memory.entries()[0]).to.deep.include({
      positionId: "42",
      prices: { liquidationPrice: "1234567890123456789012345" },
      ids: ["1", "2"],
    });
  });

  it("redacts a private key wherever it appears as a field", () => {
    const memory = createMemoryLogger();
    const key = `0x${"ab".repeat(32)}`;
    memory.log.info({ privateKey: key, config: { privateKey: key, rpcUrl: "http://x" } }, "starting");
    const [entry] = memory.entries();
    expect(JSON.stringify(entry)).not.to.contain(key);
    expect(entry.config).to.deep.equal({ privateKey: "[redacted]", rpcUrl: "http://x" });
  });

  it("keeps an error's message and code under either `err` or `error`", () => {
    const memory = createMemoryLogger();
    const failure = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    memory.log.warn({ err: failure }, "rpc down");
    memory.log.warn({ error: failure }, "rpc down");
    for (const entry of memory.entries()) {
      const logged = (entry.err ?? entry.error) as Record<string, unknown>;
      expect(logged).to.deep.include({ message: "connect ECONNREFUSED", code: "ECONNREFUSED", type: "Error" });
    }
  });

  it("honours the level: the memory logger drops what is below it", () => {
    const memory = createMemoryLogger("warn");
    memory.log.info("not kept");
    memory.log.warn("kept");
    expect(memory.entries().map((entry) => entry.msg)).to.deep.equal(["kept"]);
  });

  it("renders human lines in pretty mode, bigints included", async () => {
    const { stream, text } = sink();
    const log = createLogger({ pretty: true, destination: stream });
    log.info({ positionId: 7n }, "liquidations sent");
    await new Promise((resolve) => setImmediate(resolve));
    expect(text()).to.match(/INFO.*liquidations sent/);
    expect(text()).to.contain('positionId: "7"');
    expect(() => JSON.parse(text())).to.throw(SyntaxError);
  });

  it("has a silent variant that writes nothing", () => {
    const log = createSilentLogger();
    expect(log.level).to.equal("silent");
    expect(log.isLevelEnabled("error")).to.equal(false);
  });
});
